"""``quantcli users`` and ``quantcli serve`` on the command line, and the promise that the
other commands never load the web stack."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("fastapi")

from serve_support import PASSWORD, add_user_cli, png_bytes


def test_users_add_list_remove(run_cli, tmp_path):
    data = tmp_path / "data"
    added = run_cli("users", "add", "alice", "--data", data, stdin=(PASSWORD + "\n").encode(), check_rc=0)
    key = added.stdout.decode().splitlines()[-1]
    assert key.startswith("qk_") and len(key) == 46
    assert "shown once" in added.stderr.decode()
    assert key not in (data / "quantcli.db").read_bytes().decode("latin-1")  # stored hashed
    assert PASSWORD not in (data / "quantcli.db").read_bytes().decode("latin-1")
    add_user_cli(data, "bob")

    listed = run_cli("users", "list", "--data", data, check_rc=0).stdout.decode().splitlines()
    assert [line.split("\t")[0] for line in listed] == ["alice", "bob"]
    assert listed[0].endswith("0 images")

    again = run_cli("users", "add", "alice", "--data", data, stdin=(PASSWORD + "\n").encode())
    assert again.returncode == 2 and b"user 'alice' exists" in again.stderr
    short = run_cli("users", "add", "carol", "--data", data, stdin=b"short\n")
    assert short.returncode == 2 and b"8 to 1024 characters" in short.stderr
    bad = run_cli("users", "add", "../carol", "--data", data, stdin=(PASSWORD + "\n").encode())
    assert bad.returncode == 2 and b"a user name has" in bad.stderr

    # alice's stored images go with her
    from quantcli.serve.accounts import user_for_api_key
    from quantcli.serve.config import ServeConfig
    from quantcli.serve.work import Service, StoredImage

    service = Service(ServeConfig(data_dir=str(data), workers=1))
    with service.db.session() as s:
        alice = user_for_api_key(s, key).id
    stored: StoredImage = service.accept(alice, png_bytes(), "a.png")
    assert service.store.exists(stored.source_key)
    service.db.dispose()
    run_cli("users", "remove", "alice", "--data", data, check_rc=0)
    assert not service.store.exists(stored.source_key)
    listed = run_cli("users", "list", "--data", data, check_rc=0).stdout.decode().splitlines()
    assert [line.split("\t")[0] for line in listed] == ["bob"]
    missing = run_cli("users", "remove", "alice", "--data", data)
    assert missing.returncode == 1 and b"no user 'alice'" in missing.stderr


def test_the_data_folder_defaults_to_quantcli_data(tmp_path):
    import os

    from conftest import cli_command

    env_data = tmp_path / "from-env"
    proc = subprocess.run(
        [*cli_command(), "users", "add", "dana"],
        input=(PASSWORD + "\n").encode(),
        capture_output=True,
        env={**os.environ, "QUANTCLI_DATA": str(env_data)},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (env_data / "quantcli.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-upload", "lots"], "--max-upload must be a size such as 50MB, 200k or 1GiB, got 'lots'"),
        (["--master", "local[1]"], "--master and --conf need --engine spark"),
        (["--db", "nosuchdb://x"], "--db nosuchdb://x: cannot open"),
    ],
)
def test_serve_usage_errors(run_cli, tmp_path, args, message):
    proc = run_cli("serve", "--data", tmp_path / "data", *args)
    assert proc.returncode == 2
    assert message in proc.stderr.decode()
    assert len(proc.stderr.decode().strip().splitlines()) == 1


def test_serve_refuses_a_second_store_for_one_database(run_cli, tmp_path):
    data = tmp_path / "data"
    add_user_cli(data, "alice")
    from quantcli.serve.config import ServeConfig
    from quantcli.serve.work import Service

    Service(ServeConfig(data_dir=str(data))).db.dispose()  # the first serve records the store
    proc = run_cli("serve", "--data", data, "--store", tmp_path / "elsewhere")
    assert proc.returncode == 2
    assert "this database's images are stored in the data folder" in proc.stderr.decode()


def test_parse_size():
    from quantcli.errors import InvalidOptionError
    from quantcli.serve.config import format_size, parse_size

    assert parse_size("50MB") == 50_000_000
    assert parse_size("50M") == 50_000_000
    assert parse_size("1.5GiB") == int(1.5 * 2**30)
    assert parse_size("200k") == 200_000
    assert parse_size("1234") == 1234
    for bad in ("", "0", "-5MB", "5XB", "MB"):
        with pytest.raises(InvalidOptionError):
            parse_size(bad)
    assert format_size(50_000_000) == "50 MB"
    assert format_size(1234) == "1.2 kB"
    assert format_size(999) == "999 B"


def test_other_commands_do_not_import_the_web_stack(tmp_path):
    """``quantcli --version`` and ``quantcli compress`` start without FastAPI, SQLAlchemy,
    uvicorn or the serve package (start-up time)."""
    source = tmp_path / "in.png"
    source.write_bytes(png_bytes())
    code = f"""
import sys
from typer.testing import CliRunner
from quantcli.cli import app
runner = CliRunner()
assert runner.invoke(app, ["--version"]).exit_code == 0
result = runner.invoke(app, ["compress", {str(source)!r}, "-k", "8", "-q"])
assert result.exit_code == 0, result.output
web = ("fastapi", "starlette", "sqlalchemy", "uvicorn", "argon2", "jinja2")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in web or m.startswith("quantcli.serve"))
print(heavy)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    assert (tmp_path / "in-q8.png").exists()


def test_help_lists_serve_and_users(run_cli):
    out = run_cli("--help", check_rc=0).stdout.decode()
    assert "serve" in out and "users" in out
    serve_help = run_cli("serve", "--help", check_rc=0).stdout.decode()
    for flag in ("--data", "--db", "--store", "--max-upload", "--max-pixels", "--allow-signup", "--proxy-headers"):
        assert flag in serve_help


def test_serve_limits_reach_the_config_and_bad_ones_are_usage_errors(tmp_path, monkeypatch):
    """--max-pixels, --memory and --user-quota end up in ServeConfig as given (the
    help states the defaults ServeConfig has); a bad value is exit 2 with the option named."""
    from quantcli.cli import serve as serve_cli
    from quantcli.cli.commands import app
    from quantcli.serve.config import DEFAULT_SERVE_MAX_PIXELS, DEFAULT_USER_QUOTA, format_size
    from typer.testing import CliRunner

    seen = []
    monkeypatch.setattr(serve_cli, "_app", lambda config: config)
    monkeypatch.setattr(serve_cli, "_listen", lambda app, config, *rest: seen.append(config))
    runner = CliRunner()
    data = str(tmp_path / "data")
    result = runner.invoke(app, ["serve", "--data", data, "--max-pixels", "1000", "--memory", "3G"])
    assert result.exit_code == 0, result.output
    assert (seen[-1].max_pixels, seen[-1].memory_budget) == (1000, 3 * 2**30)
    result = runner.invoke(app, ["serve", "--data", data])
    assert result.exit_code == 0, result.output
    assert (seen[-1].max_pixels, seen[-1].user_quota) == (DEFAULT_SERVE_MAX_PIXELS, DEFAULT_USER_QUOTA)
    for given, quota in (("5GB", 5 * 10**9), ("512MiB", 512 * 2**20), ("none", None), ("None", None)):
        result = runner.invoke(app, ["serve", "--data", data, "--user-quota", given])
        assert result.exit_code == 0, result.output
        assert seen[-1].user_quota == quota, given
    help_text = " ".join(runner.invoke(app, ["serve", "--help"], terminal_width=200).output.split())
    assert f"Default: {DEFAULT_SERVE_MAX_PIXELS} ({DEFAULT_SERVE_MAX_PIXELS // 10**6} MP)" in help_text
    assert "--memory" in help_text and "Default: half the RAM" in help_text
    assert f"Default: {format_size(DEFAULT_USER_QUOTA).replace(' ', '')}." in help_text
    bad = [("--memory", "lots"), ("--memory", "0"), ("--memory", "150%"), ("--max-pixels", "0"), ("--user-quota", "-1")]
    for flag, value in [*bad, ("--user-quota", "unlimited"), ("--user-quota", "0")]:
        result = runner.invoke(app, ["serve", "--data", data, flag, value])
        assert result.exit_code == 2, (flag, value, result.output)
        assert flag in result.output, result.output


def test_a_serve_that_cannot_listen_leaves_the_jobs_alone(run_cli, tmp_path):
    """A second ``serve`` on a taken port exits 1 before it requeues anything: the jobs a
    running server holds stay as they are."""
    import socket

    from quantcli.serve.config import ServeConfig
    from quantcli.serve.db import Image, Job
    from quantcli.serve.work import Service

    data = tmp_path / "data"
    add_user_cli(data, "alice")
    service = Service(ServeConfig(data_dir=str(data), workers=1))
    with service.db.session() as s:
        alice = service.db.user_by_name(s, "alice").id
        job = Job(user_id=alice, k="8", status="open")
        s.add(job)
        s.flush()
        job_id = job.id
    service.accept(alice, png_bytes(), "a.png", job_id=job_id)
    with service.db.session() as s:  # running, with no live claim: what a restart requeues
        s.get(Job, job_id).status = "running"
        s.get(Job, job_id).images[0].status = "running"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_cli("serve", "--data", data, "--port", port)
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr.decode()
    with service.db.session() as s:
        assert s.get(Job, job_id).status == "running"
        assert [i.status for i in s.query(Image)] == ["running"]
    service.db.dispose()


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_the_database_and_data_folders_are_private(tmp_path, umask):
    """quantcli.db (password hashes) is 0600 and the folders the server makes are 0700,
    whatever the umask."""
    import os
    import stat

    from conftest import cli_command
    from quantcli.serve.config import ServeConfig
    from quantcli.serve.work import Service

    data = tmp_path / "data"

    def mode(path) -> int:
        return stat.S_IMODE(os.stat(path).st_mode)

    in_umask = ["sh", "-c", f'umask {umask:03o} && exec "$@"', "sh"]
    proc = subprocess.run(
        [*in_umask, *cli_command(), "users", "add", "alice", "--data", str(data)],
        input=(PASSWORD + "\n").encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert mode(data) == 0o700
    assert mode(data / "quantcli.db") == 0o600
    old = os.umask(umask)
    try:
        service = Service(ServeConfig(data_dir=str(data), workers=1))
        with service.db.session() as s:
            alice = service.db.user_by_name(s, "alice").id
        stored = service.accept(alice, png_bytes(), "a.png")
    finally:
        os.umask(old)
    service.db.dispose()
    folders = [data / "images", data / "images" / f"u{alice}", data / "images" / f"u{alice}" / stored.id]
    assert [oct(mode(folder)) for folder in folders] == [oct(0o700)] * 3
    assert all(mode(path) & 0o077 == 0 for path in data.glob("quantcli.db*"))


def _signs_in(data, name: str, password: str) -> bool:
    from quantcli.serve.accounts import AddressThrottle, LoginRefused, authenticate
    from quantcli.serve.db import Database

    db = Database("sqlite:///" + str(data / "quantcli.db"))
    try:
        authenticate(db, AddressThrottle(db), "127.0.0.1", name, password)
    except LoginRefused:
        return False
    finally:
        db.dispose()
    return True


def test_user_names_are_unique_whatever_their_case(run_cli, tmp_path):
    data = tmp_path / "data"
    add_user_cli(data, "Alice")
    again = run_cli("users", "add", "alice", "--data", data, stdin=(PASSWORD + "\n").encode())
    assert again.returncode == 2
    assert "user 'alice' exists as 'Alice'" in again.stderr.decode()
    listed = run_cli("users", "list", "--data", data, check_rc=0).stdout.decode().splitlines()
    assert [line.split("\t")[0] for line in listed] == ["Alice"]  # spelled as given
    assert _signs_in(data, "alice", PASSWORD) and _signs_in(data, "ALICE", PASSWORD)


def test_a_piped_password_loses_its_crlf(run_cli, tmp_path):
    data = tmp_path / "data"
    run_cli("users", "add", "crlf", "--data", data, stdin=(PASSWORD + "\r\n").encode(), check_rc=0)
    assert _signs_in(data, "crlf", PASSWORD)
    assert not _signs_in(data, "crlf", PASSWORD + "\r")


def test_users_passwd_sets_a_new_password(run_cli, tmp_path):
    data = tmp_path / "data"
    key = add_user_cli(data, "alice")
    from quantcli.serve.accounts import start_session, user_for_api_key
    from quantcli.serve.db import Database, LoginSession

    db = Database("sqlite:///" + str(data / "quantcli.db"))
    with db.session() as s:
        alice = user_for_api_key(s, key).id
    start_session(db, alice)
    changed = run_cli("users", "passwd", "ALICE", "--data", data, stdin=b"a new password\r\n", check_rc=0)
    assert "set the password of alice" in changed.stderr.decode()
    assert _signs_in(data, "alice", "a new password")
    assert not _signs_in(data, "alice", PASSWORD)
    with db.session() as s:
        assert s.query(LoginSession).count() == 0  # signed out everywhere
        assert user_for_api_key(s, key).id == alice  # the API key stays
    db.dispose()
    short = run_cli("users", "passwd", "alice", "--data", data, stdin=b"short\n")
    assert short.returncode == 2 and "8 to 1024 characters" in short.stderr.decode()
    missing = run_cli("users", "passwd", "bob", "--data", data, stdin=(PASSWORD + "\n").encode())
    assert missing.returncode == 1 and "no user 'bob'" in missing.stderr.decode()
    assert "passwd" in run_cli("users", "--help", check_rc=0).stdout.decode()
