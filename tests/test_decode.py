"""Reading untrusted inputs: size limits before decoding, short PNG data, 16-bit rounding,
colour profiles, one-line reasons, escaped names, memory and import cost of the read path."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import threading
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import quantcli
from conftest import crafting_helpers
from PIL import Image, ImageCms, ImageOps
from quantcli import ImageReadError, InvalidOptionError, QuantizeOptions
from quantcli.colour import scale16
from quantcli.decoding import reading
from quantcli.images import (
    DEFAULT_MAX_PIXELS,
    display_name,
    image_size,
    read_image,
)

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "corpus"
EXPECTED = json.loads((DATA / "bad_inputs.json").read_text())


craft = crafting_helpers()


def reason(source, **kwargs) -> str:
    """The text after "<name>: " of the ImageReadError reading ``source`` raises."""
    with pytest.raises(ImageReadError) as info:
        read_image(source, name="input", **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("input: ")
    return message.removeprefix("input: ")


def traced_peak(function, *args):
    """(function(*args), peak bytes Python and NumPy allocated meanwhile)."""
    tracemalloc.start()
    try:
        result = function(*args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- the corpus ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_gives_the_documented_reason(name):
    path = CORPUS / name
    want = EXPECTED[name]
    if want is None:
        pixels = read_image(path)
        assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] in (3, 4)
        return
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert str(info.value) == f"{path}: {want}"


def test_corpus_is_what_the_script_makes():
    """The committed files are the script's output (rerun it after changing either)."""
    made = craft.corpus()
    assert sorted(made) == sorted(EXPECTED) == sorted(p.name for p in CORPUS.iterdir())
    assert {name: reason for name, (_, reason) in made.items()} == EXPECTED
    # Content compared for files that do not depend on this machine's zlib or libjpeg.
    for name in ("empty.png", "text.png", "zero-size.png", "huge-dimensions.png", "huge-screen.gif"):
        assert (CORPUS / name).read_bytes() == made[name][0]
    assert sum(p.stat().st_size for p in CORPUS.iterdir()) < 64 * 1024


# --- decompression bombs ---------------------------------------------------------------


def test_bomb_is_refused_from_its_header_without_decoding():
    data = (CORPUS / "bomb.png").read_bytes()
    assert len(data) < 32 * 1024
    message, peak = traced_peak(reason, data)
    assert message == "image too large: 13000x13000 (169 MP) exceeds --max-pixels 100 MP"
    assert peak < 2 * 1024 * 1024  # nothing of the 169 MP was allocated


def test_max_pixels_is_inclusive_and_none_lifts_it():
    png = craft.png_file(craft.gradient(10, 10))
    assert read_image(png, max_pixels=100).shape == (10, 10, 3)
    assert reason(png, max_pixels=99) == "image too large: 10x10 (0.0001 MP) exceeds --max-pixels 0.000099 MP"
    assert read_image(png, max_pixels=None).shape == (10, 10, 3)
    assert DEFAULT_MAX_PIXELS == 100_000_000


def test_megapixels_show_enough_decimals_to_differ():
    header = craft.PNG_SIGNATURE + craft.ihdr(10000, 10001, 8, 2) + craft.png_chunk(b"IEND", b"")
    assert reason(header) == "image too large: 10000x10001 (100.01 MP) exceeds --max-pixels 100 MP"


def test_a_small_limit_is_given_in_pixels_not_as_0_mp():
    """--max-pixels 100 against a large image once read "exceeds --max-pixels 0 MP"."""
    bomb = (CORPUS / "bomb.png").read_bytes()
    assert reason(bomb, max_pixels=100) == "image too large: 13000x13000 (169 MP) exceeds --max-pixels 100 pixels"
    png = craft.png_file(craft.gradient(4, 5))
    assert reason(png, max_pixels=1) == "image too large: 5x4 (20 pixels) exceeds --max-pixels 1 pixel"


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "100"])
def test_max_pixels_must_be_a_positive_integer(bad):
    with pytest.raises(InvalidOptionError):
        read_image(craft.png_file(craft.gradient()), max_pixels=bad)


def test_pillows_own_bomb_limits_do_not_apply():
    """A header past Pillow's limits (89 MP warns, 179 MP fails) gets our size and message,
    and a caller may allow more than Pillow would."""
    header = craft.PNG_SIGNATURE + craft.ihdr(20000, 10000, 1, 0) + craft.png_chunk(b"IEND", b"")
    assert image_size(header) == (20000, 10000)
    assert reason(header) == "image too large: 20000x10000 (200 MP) exceeds --max-pixels 100 MP"
    assert reason(header, max_pixels=300_000_000) == "truncated image data"  # no IDAT at all


def test_an_image_inside_a_container_is_bounded_before_it_is_decoded():
    """A BLP declares one size and decodes the JPEG inside it, whatever that JPEG's size
    (Pillow's blp1_jpeg2.blp: 425x256 holding 64512x256, 255 MB): --max-pixels, and the
    declared size the memory budget counts, bound what is decoded, not only the header."""
    wide = craft.jpeg_bytes(np.zeros((16, 4000, 3), np.uint8))  # 64,000 pixels
    within = craft.blp1_jpeg(wide, (4000, 16))
    assert read_image(within).shape == (16, 4000, 3)
    assert (
        reason(within, max_pixels=10_000) == "image too large: 4000x16 (64000 pixels) exceeds --max-pixels 10000 pixels"
    )
    hiding = craft.blp1_jpeg(wide, (100, 16))
    assert image_size(hiding) == (100, 16)
    _, peak = traced_peak(read_image, within, None)
    message, hidden_peak = traced_peak(lambda: reason(hiding, max_pixels=10_000))
    assert message == (
        "image too large: 100x16 holds a 4000x16 image (64000 pixels) that exceeds --max-pixels 10000 pixels"
    )
    assert hidden_peak < peak / 4  # refused before the JPEG was decoded
    assert reason(hiding, max_pixels=None) == "corrupt image data (a 4000x16 image inside a 100x16 one)"


def test_an_icos_bitmap_and_mask_are_within_the_bound():
    """An ICO's bitmap is stored twice as tall as the image (the AND mask below it)."""
    pixels = craft.gradient(32, 32)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="ICO", sizes=[(32, 32)], bitmap_format="bmp")
    np.testing.assert_array_equal(read_image(buf.getvalue(), max_pixels=32 * 32), pixels)


def test_image_size_reads_the_header_only(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes((CORPUS / "bomb.png").read_bytes())
    assert image_size(path) == (13000, 13000)
    assert image_size((CORPUS / "good.jpg").read_bytes()) == (32, 32)
    with pytest.raises(ImageReadError, match="not an image"):
        image_size(CORPUS / "text.png")


# --- PNG data shorter than IHDR declares -----------------------------------------------


def short_png(pixels: np.ndarray, rows: int, interlace: bool = False) -> bytes:
    """A PNG of ``pixels`` whose zlib stream ends cleanly after ``rows`` rows."""
    full = craft.png_file(pixels, interlace=interlace)
    a = pixels if pixels.ndim == 3 else pixels[:, :, None]
    raw = craft.png_filter(a[:rows], 8)
    start = full.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", full[start : start + 4])
    return full[:start] + craft.png_chunk(b"IDAT", zlib.compress(raw)) + full[start + 12 + length :]


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_zlib_stream_ending_early_is_truncated(channels):
    pixels = np.full((8, 5, channels), 200, np.uint8)
    assert reason(short_png(pixels, 3)) == "truncated image data"


def test_zlib_stream_ending_early_when_missing_rows_would_be_black_anyway():
    pixels = np.zeros((8, 5, 4), np.uint8)  # all transparent black: the last row proves nothing
    assert reason(short_png(pixels, 7)) == "truncated image data"


def test_interlaced_png_short_data_is_truncated_and_full_data_reads():
    pixels = craft.gradient(9, 11)
    interlaced = craft.png_file(pixels, interlace=True, filters=[0, 1, 2, 3, 4])
    np.testing.assert_array_equal(read_image(interlaced), pixels)
    start = interlaced.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", interlaced[start : start + 4])
    raw = zlib.decompress(interlaced[start + 8 : start + 8 + length])
    short = craft.png_chunk(b"IDAT", zlib.compress(raw[:-20]))
    cut = interlaced[:start] + short + interlaced[start + 12 + length :]
    assert reason(cut) == "truncated image data"


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_black_last_row_is_not_mistaken_for_missing_data(channels):
    pixels = np.full((6, 4, channels), 90, np.uint8)
    pixels[-1] = 0
    np.testing.assert_array_equal(read_image(craft.png_file(pixels)), quantcli.to_rgb8(pixels))


def test_plain_truncation_still_errors(tmp_path, rgb_image):
    data = craft.png_file(rgb_image)
    assert reason(data[: len(data) // 2]) == "truncated image data"


# --- 16-bit samples --------------------------------------------------------------------


def test_scale16_is_the_rounding_rule_for_every_value():
    v = np.arange(65536, dtype=np.uint16)
    want = np.array([round(int(x) * 255 / 65535) for x in v], np.uint8)
    np.testing.assert_array_equal(scale16(v), want)


def rule(values: np.ndarray) -> np.ndarray:
    return np.round(values.astype(np.float64) * 255 / 65535).astype(np.uint8)


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
def test_sixteen_bit_colour_png_follows_the_rule(channels, filter_type):
    rng = np.random.default_rng(channels * 10 + filter_type)
    samples = rng.integers(0, 65536, (5, 7, channels), dtype=np.uint16)
    if channels == 4:
        samples[0, 0, 3] = 1000  # not opaque: the alpha channel stays
    out = read_image(craft.png_file(samples, depth=16, filters=[filter_type]))
    np.testing.assert_array_equal(out, rule(samples))


def test_sixteen_bit_grey_alpha_png_follows_the_rule():
    samples = np.array([[[1000, 255], [65535, 1000]], [[383, 65535], [12345, 32896]]], np.uint16)
    out = read_image(craft.png_file(samples, depth=16, filters=[4]))
    grey = rule(samples[:, :, 0])
    np.testing.assert_array_equal(out[:, :, :3], np.repeat(grey[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(out[:, :, 3], rule(samples[:, :, 1]))


def test_sixteen_bit_corpus_file_has_exact_values():
    assert read_image(CORPUS / "rgb16.png").tolist() == rule(craft.RGB16_SAMPLES).tolist()
    assert read_image(CORPUS / "rgb16.png")[0, 0].tolist() == [0, 4, 255]  # 1000 -> 4, not 3


# --- bytes-like inputs -----------------------------------------------------------------


def test_bytes_like_inputs_all_read(rgb_image):
    data = craft.png_file(rgb_image)
    strided = np.repeat(np.frombuffer(data, np.uint8), 2)[::2]
    for source in (data, bytearray(data), memoryview(data), memoryview(strided)):
        np.testing.assert_array_equal(read_image(source), rgb_image)
    for source in (b"", bytearray(), memoryview(b"")):
        assert reason(source) == "empty input (0 bytes)"


def test_compress_bytes_accepts_bytearray_and_memoryview(rgb_image):
    data = craft.png_file(rgb_image)
    options = QuantizeOptions(k=8)
    want, _ = quantcli.compress_bytes(data, options)
    for source in (bytearray(data), memoryview(data)):
        png, result = quantcli.compress_bytes(source, options)
        assert png == want and result.bytes_in == len(data)


# --- colour profiles -------------------------------------------------------------------


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def adobe_to_srgb_oracle(pixels: np.ndarray) -> np.ndarray:
    """Adobe RGB -> sRGB from the two spaces' published primaries and curves, in NumPy."""
    linear = (pixels.astype(np.float64) / 255.0) ** craft.ADOBE_RGB_GAMMA
    matrix = np.linalg.inv(craft.rgb_to_xyz_d50(craft.SRGB_XY)) @ craft.rgb_to_xyz_d50(craft.ADOBE_RGB_XY)
    return np.round(srgb_encode(linear @ matrix.T) * 255).astype(np.int16)


def photo_colours(h: int = 24, w: int = 32) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_adobe_rgb_image_is_converted_to_srgb():
    pixels = photo_colours()
    profile = craft.adobe_rgb_profile()
    data = craft.png_file(pixels, chunks_before_idat=(craft.iccp_chunk(profile),))
    out = read_image(data).astype(np.int16)
    # An independent oracle: the colour science done in NumPy.
    assert np.abs(out - adobe_to_srgb_oracle(pixels)).max() <= 2
    # And what a colour-managed viewer does (littleCMS through Pillow).
    source = Image.open(io.BytesIO(data))
    viewer = ImageCms.profileToProfile(
        source,
        ImageCms.ImageCmsProfile(io.BytesIO(profile)),
        ImageCms.createProfile("sRGB"),
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
        outputMode="RGB",
    )
    assert np.abs(out - np.asarray(viewer).astype(np.int16)).max() <= 1
    # Not a no-op: saturated Adobe RGB colours lie outside sRGB and move a lot.
    assert np.abs(out - pixels).max() > 20


def test_adobe_rgb_with_alpha_keeps_its_alpha():
    rgba = np.concatenate([photo_colours(), np.full((24, 32, 1), 128, np.uint8)], axis=2)
    data = craft.png_file(rgba, chunks_before_idat=(craft.iccp_chunk(craft.adobe_rgb_profile()),))
    out = read_image(data)
    assert out.shape == (24, 32, 4) and (out[:, :, 3] == 128).all()
    assert np.abs(out[:, :, :3].astype(np.int16) - adobe_to_srgb_oracle(rgba[:, :, :3])).max() <= 2


def test_adobe_rgb_jpeg_is_converted_too():
    pixels = np.full((16, 16, 3), (40, 200, 90), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=95, icc_profile=craft.adobe_rgb_profile())
    plain = read_image(buf.getvalue().replace(b"ICC_PROFILE", b"NOT_PROFILE"))
    tagged = read_image(buf.getvalue())
    assert np.abs(tagged.astype(np.int16) - adobe_to_srgb_oracle(plain)).max() <= 2


def test_srgb_tagged_image_is_unchanged():
    pixels = photo_colours()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged = craft.png_file(pixels, chunks_before_idat=(craft.iccp_chunk(srgb),))
    np.testing.assert_array_equal(read_image(tagged), pixels)


@pytest.mark.parametrize("profile", [b"not an ICC profile at all", b"\0" * 200])
def test_unreadable_profile_is_ignored(profile):
    pixels = photo_colours()
    tagged = craft.png_file(pixels, chunks_before_idat=(craft.iccp_chunk(profile),))
    np.testing.assert_array_equal(read_image(tagged), pixels)


def test_corpus_adobe_rgb_file_differs_from_its_untagged_pixels():
    tagged = read_image(CORPUS / "adobe-rgb.png")
    untagged = read_image(CORPUS / "good.png")
    assert np.abs(tagged.astype(np.int16) - adobe_to_srgb_oracle(untagged)).max() <= 2
    assert not np.array_equal(tagged, untagged)


# --- EXIF orientation ------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(orientation):
    pixels = craft.gradient(5, 7)
    pixels[0, 0] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", exif=exif)
    want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))).convert("RGB"))
    np.testing.assert_array_equal(read_image(buf.getvalue()), want)


@pytest.mark.parametrize("compression", ["raw", "tiff_deflate"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_tiff_orientation_matches_pillow(orientation, compression):
    """Pillow rotates a TIFF as it loads it, at the stored size (transposed for 5 to 8),
    so a TIFF is never decoded into memory of the shown size."""
    pixels = craft.gradient(5, 7)
    pixels[0, 0] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="TIFF", exif=exif, compression=compression)
    with Image.open(io.BytesIO(buf.getvalue())) as image:
        want = np.asarray(image.convert("RGB"))
    np.testing.assert_array_equal(read_image(buf.getvalue()), want)


@pytest.mark.parametrize("compression", [1, 8])
def test_planar_rgb_tiff_reads(compression):
    """One strip per colour band (PlanarConfiguration 2), through libtiff when deflated:
    it was refused as "decoder error -2"."""
    pixels = craft.gradient(6, 9)
    np.testing.assert_array_equal(read_image(craft.tiff_planar_rgb(pixels, compression)), pixels)


# --- names and messages ----------------------------------------------------------------


def test_display_name_escapes_what_a_terminal_would_act_on():
    assert display_name("photo.png") == "photo.png"
    assert display_name("a\nb.png") == "a\\nb.png"
    assert display_name("red\x1b[31m.png") == "red\\x1b[31m.png"
    assert display_name("evil\u202egnp.exe") == "evil\\u202egnp.exe"
    assert display_name("line\u2028sep") == "line\\u2028sep"
    assert display_name("caf\u00e9 \u732b.png") == "caf\u00e9 \u732b.png"  # printable stays
    assert display_name(b"bad\xffname.png") == "bad\\xffname.png"  # undecodable byte
    assert display_name(Path("x\ty")) == "x\\ty"
    assert display_name(display_name("a\nb")) == display_name("a\nb")


def test_error_names_a_file_with_control_characters_escaped(tmp_path):
    path = tmp_path / "evil\n\x1b[2Jname.png"
    path.write_bytes(b"not an image")
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message
    assert message == f"{tmp_path}/evil\\n\\x1b[2Jname.png: not an image (unrecognised format)"


def test_eps_is_said_to_be_unsupported_not_unrecognised():
    """EPS is refused by design (Pillow would run Ghostscript on it), in either form."""
    text = (CORPUS / "postscript.eps").read_bytes()
    dos_binary = struct.pack("<IIIIIIIH", 0xC6D3D0C5, 30, len(text), 0, 0, 0, 0, 0xFFFF) + text
    for data in (text, dos_binary):
        assert reason(data) == "EPS is not supported (it would need Ghostscript)"
        with pytest.raises(ImageReadError, match="EPS is not supported"):
            image_size(data)


def test_missing_folder_and_unreadable_files(tmp_path):
    assert reason(tmp_path / "missing.png") == "no such file"
    assert reason(tmp_path) == "is a folder, not an image"
    locked = tmp_path / "locked.png"
    locked.write_bytes(craft.png_file(craft.gradient()))
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as a user who reads any file")
        assert reason(locked) == "permission denied"
    finally:
        locked.chmod(0o644)


def test_out_of_memory_is_a_plain_reason(monkeypatch):
    import quantcli.decoding as decode

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(decode, "_decode_direct", no_memory)
    assert reason(craft.png_file(craft.gradient())) == "out of memory"


def test_reading_from_a_pipe(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    data = craft.png_file(craft.gradient())
    writer = subprocess.Popen([sys.executable, "-c", f"open({str(fifo)!r}, 'wb').write({data!r})"])
    try:
        np.testing.assert_array_equal(read_image(fifo), craft.gradient())
    finally:
        writer.wait(timeout=60)


# --- decoder messages: one line per file, nothing from Pillow or libtiff -------------------

# Broken TIFFs from the corpus whose decoding makes Pillow warn or log, or libtiff write to
# fd 2, each with its one reason (None: read, despite Pillow's warning).
NOISY_TIFFS = (
    "deflate-strip-past-end.tif",
    "deflate-cut-short.tif",
    "deflate-garbage.tif",
    "samples-per-pixel.tif",
    "tag-past-end.tif",
)


def test_a_batch_of_noisy_tiffs_prints_one_line_per_file(run_cli, tmp_path):
    """Pillow's UserWarnings (with its site-packages path), its log records and libtiff's
    C messages ("TIFFFillStrip: Read error on strip 0; got 18446744073709...") reach
    stderr no more: only quantcli's lines, also with several decoding threads."""
    sources = []
    for copy in range(3):
        for name in NOISY_TIFFS:
            sources.append(tmp_path / f"{copy}-{name}")
            sources[-1].write_bytes((CORPUS / name).read_bytes())
    proc = run_cli("compress", *sources, "--out-dir", tmp_path / "out", "-j", "4", "-k", "8", check_rc=1)
    lines = proc.stderr.decode().splitlines()
    want = [f"quantcli: error: {path}: {EXPECTED[path.name[2:]]}" for path in sources if EXPECTED[path.name[2:]]]
    assert lines[:-1] == want
    assert lines[-1].startswith("quantcli: 3 written, 0 skipped, 12 failed;")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{copy}-tag-past-end.png" for copy in range(3)]


@pytest.mark.parametrize("name", ["deflate-strip-past-end.tif", "tag-past-end.tif"])
def test_a_noisy_tiff_on_stdin_prints_one_line(run_cli, name):
    """From bytes, libtiff reads through Pillow's own read procedure, which reports a read
    past the end itself ("_tiffReadProc: Invalid Read at loc ...")."""
    proc = run_cli("compress", "-", "-o", "-", "--stdout", "-q", stdin=(CORPUS / name).read_bytes())
    if EXPECTED[name] is None:
        assert proc.returncode == 0 and proc.stderr == b"" and proc.stdout.startswith(craft.PNG_SIGNATURE)
    else:
        assert (proc.returncode, proc.stderr.decode()) == (1, f"quantcli: error: <stdin>: {EXPECTED[name]}\n")


@pytest.mark.parametrize("as_bytes", [False, True])
def test_libtiff_writes_nothing_to_fd_2(capfd, as_bytes):
    """libtiff's handlers write to file descriptor 2, past sys.stderr: captured here at the fd."""
    for name in ("deflate-strip-past-end.tif", "deflate-cut-short.tif"):
        source = (CORPUS / name).read_bytes() if as_bytes else CORPUS / name
        assert reason(source) == "truncated image data"
    assert capfd.readouterr() == ("", "")


def test_a_tiff_pillow_reads_with_a_warning_is_read_even_under_error_filters():
    """pytest turns warnings into errors here, as ``-W error`` would: Pillow's "Tag data
    larger than file" would then abort the file, so it was refused with the warning as
    the reason."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pixels = read_image(CORPUS / "tag-past-end.tif")
    assert pixels.shape == (48, 64, 3)
    np.testing.assert_array_equal(pixels[:, :, 0], craft.gradient(48, 64)[:, :, 0])


def pillow_warning() -> None:
    warnings.warn_explicit("a test warning", UserWarning, "TiffImagePlugin.py", 1, module="PIL.TiffImagePlugin")


def test_pillow_warnings_are_silenced_only_in_a_thread_that_reads():
    """The filter is scoped to reading threads: with -j, or in an application, another
    thread's warnings (Pillow's included) go where they always went."""
    read_image(CORPUS / "tag-past-end.tif")  # installs the filter
    inside, release = threading.Event(), threading.Event()
    outcome = {}

    def reader() -> None:
        with reading():
            inside.set()
            release.wait(10)
            try:
                pillow_warning()
                outcome["reader"] = "silenced"
            except UserWarning:
                outcome["reader"] = "raised"

    thread = threading.Thread(target=reader)
    thread.start()
    assert inside.wait(10)
    try:
        with pytest.raises(UserWarning, match="a test warning"):
            pillow_warning()  # this thread is not reading: pytest's error filter applies
        with pytest.warns(UserWarning, match="a test warning"):
            pillow_warning()
    finally:
        release.set()
        thread.join(10)
    assert outcome == {"reader": "silenced"}
    with pytest.raises(RuntimeWarning), reading():
        warnings.warn("not from Pillow", RuntimeWarning, stacklevel=1)  # still an error


def test_compress_help_names_the_slow_formats(run_cli):
    text = " ".join(run_cli("compress", "--help", check_rc=0).stdout.decode().split())
    assert "EPS is not supported" in text
    for slow in ("JPEG 2000 (.jp2, .j2k, .jpf)", "QOI", "uncompressed DDS", "XPM", "BLP", "plain-text PBM"):
        assert slow in text


# --- memory and import cost ------------------------------------------------------------


@pytest.mark.parametrize("channels", [3, 4])
def test_direct_decode_makes_no_extra_copy(channels):
    """An 8-bit RGB(A) PNG decodes into the returned array: the traced peak stays near
    4 bytes per pixel (Pillow's tobytes route peaked at 10)."""
    h, w = 600, 500
    pixels = np.random.default_rng(1).integers(0, 256, (h, w, channels), dtype=np.uint8)
    if channels == 4:
        pixels[0, 0, 3] = 7
    data = craft.png_file(pixels)
    out, peak = traced_peak(read_image, data)
    np.testing.assert_array_equal(out, pixels)
    assert peak - 2 * len(data) < 4.5 * h * w
    assert out.base is None and out.nbytes == h * w * channels  # RGB: the RGBA buffer was shrunk


def test_read_path_imports_neither_imageio_nor_every_pillow_plugin():
    code = (
        "import sys, quantcli.images as d; "
        "assert 'imageio' not in sys.modules, 'imageio'; "
        f"d.read_image({str(CORPUS / 'good.png')!r}); "
        "loaded = sorted(m for m in sys.modules if m.startswith('PIL.') and m.endswith('ImagePlugin')); "
        "print(loaded, 'imageio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['PIL.PngImagePlugin'] False"


# --- every format Pillow writes decodes as Pillow's own conversion does -----------------


@pytest.mark.parametrize(
    ("fmt", "mode", "options"),
    [
        ("PNG", "RGB", {}),
        ("PNG", "L", {}),
        ("PNG", "1", {}),
        ("PNG", "LA", {}),
        ("PNG", "P", {}),
        ("JPEG", "RGB", {"quality": 95}),
        ("JPEG", "L", {"quality": 95}),
        ("JPEG", "CMYK", {"quality": 95}),
        ("TIFF", "RGB", {}),
        ("TIFF", "RGB", {"compression": "tiff_deflate"}),
        ("TIFF", "RGBA", {"compression": "tiff_lzw"}),
        ("BMP", "RGB", {}),
        ("GIF", "P", {}),
        ("GIF", "L", {}),
        ("GIF", "P", {"transparency": 0}),
        ("WEBP", "RGB", {"lossless": True}),
        ("WEBP", "RGBA", {"lossless": True}),
        ("PPM", "RGB", {}),
        ("TGA", "RGBA", {}),
        ("ICO", "RGBA", {"sizes": [(32, 32)]}),
    ],
)
def test_formats_decode_like_pillow(fmt, mode, options):
    rgb = craft.gradient(32, 32)
    image = Image.fromarray(rgb)
    if mode == "RGBA":
        image.putalpha(Image.fromarray(np.tile(np.arange(0, 256, 8, dtype=np.uint8), (32, 1))))
    elif mode != "RGB":
        image = image.convert(mode)
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    decoded = Image.open(io.BytesIO(buf.getvalue()))
    alpha = decoded.mode in ("RGBA", "LA", "PA") or "transparency" in decoded.info
    want = np.asarray(decoded.convert("RGBA" if alpha else "RGB"))
    if want.shape[2] == 4 and (want[:, :, 3] == 255).all():
        want = want[:, :, :3]
    np.testing.assert_array_equal(read_image(buf.getvalue()), want)


# --- faithful decoding: colour keys, integer grey, decodes that fill nothing ------------

PNGSUITE = Path(__file__).parents[1].parent / "shared" / "pngsuite"


def pypng_rgba8(source: bytes | Path) -> np.ndarray:
    """An independent decoder's view of a PNG (pypng, which turns a tRNS colour key into
    alpha at every bit depth), as (h, w, 4) uint8 by the rule round(v * 255 / max)."""
    png = pytest.importorskip("png")
    reader = png.Reader(bytes=source if isinstance(source, bytes) else source.read_bytes())
    width, height, rows, info = reader.asDirect()
    planes, top = info["planes"], (1 << info["bitdepth"]) - 1
    samples = np.array([np.asarray(row, np.uint32) for row in rows]).reshape(height, width, planes)
    out = ((samples * 510 + top) // (2 * top)).astype(np.uint8)
    if planes in (1, 2):
        out = np.concatenate([np.repeat(out[:, :, :1], 3, axis=2), out[:, :, 1:]], axis=2)
    if out.shape[2] == 3:
        out = np.concatenate([out, np.full((height, width, 1), 255, np.uint8)], axis=2)
    return out


def as_rgba(pixels: np.ndarray) -> np.ndarray:
    if pixels.shape[2] == 4:
        return pixels
    return np.concatenate([pixels, np.full((*pixels.shape[:2], 1), 255, np.uint8)], axis=2)


def keyed_png(greyscale: bool, depth: int) -> tuple[bytes, int]:
    """A grey or RGB PNG whose tRNS colour key names one of its colours; (bytes, pixels keyed)."""
    png = pytest.importorskip("png")
    top = (1 << depth) - 1
    height, width = 6, 9
    planes = 1 if greyscale else 3
    rng = np.random.default_rng(depth * 2 + greyscale)
    samples = rng.integers(0, top + 1, (height, width, planes), dtype=np.uint32)
    key = tuple(int(v) for v in samples[2, 3])
    keyed = int((samples == np.array(key)).all(axis=2).sum())
    writer = png.Writer(width, height, greyscale=greyscale, bitdepth=depth, transparent=key[0] if greyscale else key)
    out = io.BytesIO()
    writer.write(out, samples.reshape(height, width * planes).tolist())
    return out.getvalue(), keyed


@pytest.mark.parametrize(
    ("greyscale", "depth"), [(True, 1), (True, 2), (True, 4), (True, 8), (True, 16), (False, 8), (False, 16)]
)
def test_a_trns_colour_key_becomes_alpha_at_every_depth(greyscale, depth):
    data, keyed = keyed_png(greyscale, depth)
    ours = read_image(data)
    assert ours.shape[2] == 4
    assert int((ours[:, :, 3] == 0).sum()) == keyed > 0
    np.testing.assert_array_equal(ours, pypng_rgba8(data))


@pytest.mark.parametrize("name", ["tbrn2c08", "tbbn0g04", "tbwn0g16", "tbbn2c16", "tbgn2c16", "tbbn3p08", "tp1n3p08"])
def test_pngsuite_transparency_matches_an_independent_decoder(name):
    path = PNGSUITE / f"{name}.png"
    if not path.exists():
        pytest.skip("../shared/pngsuite is not beside the repository")
    ours, theirs = as_rgba(read_image(path)), pypng_rgba8(path)
    np.testing.assert_array_equal(ours[:, :, 3], theirs[:, :, 3])
    visible = theirs[:, :, 3] > 0
    np.testing.assert_array_equal(ours[visible], theirs[visible])


def test_colour_keyed_png_keeps_its_transparency_through_compress():
    data, keyed = keyed_png(False, 8)
    png, _ = quantcli.compress_bytes(data, QuantizeOptions(k=16))
    back = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert int((back[:, :, 3] == 0).sum()) == keyed


def integer_grey_files(tmp_path: Path) -> dict[str, tuple[Path, np.ndarray]]:
    """A 16-bit ramp stored as PGM (maxval 65535 and 1000), TIFF unsigned and signed 16-bit,
    and unsigned and signed 32-bit; each with the 8-bit grey the rule gives."""
    tifffile = pytest.importorskip("tifffile")
    ramp = (np.arange(48 * 40).reshape(40, 48) * 34).astype(np.uint16)
    want = rule(ramp)
    files = {}
    pgm = tmp_path / "ramp16.pgm"
    pgm.write_bytes(b"P5\n48 40\n65535\n" + ramp.astype(">u2").tobytes())
    files["pgm16"] = (pgm, want)
    small = (ramp.astype(np.uint32) * 1000 // 65535).astype(np.uint16)
    pgm = tmp_path / "ramp1000.pgm"
    pgm.write_bytes(b"P5\n48 40\n1000\n" + small.astype(">u2").tobytes())
    files["pgm1000"] = (pgm, np.round(small.astype(np.float64) * 255 / 1000).astype(np.uint8))
    stored = {
        "tiff16": ramp,
        "tiff16s": (ramp.astype(np.int32) - 32768).astype(np.int16),
        "tiff32": ramp.astype(np.uint32) * 65537,  # 0..65535 spread over 0..2^32-1
        "tiff32s": (ramp.astype(np.int64) * 65537 - 2**31).astype(np.int32),
    }
    for name, values in stored.items():
        path = tmp_path / f"{name}.tif"
        tifffile.imwrite(path, values)
        files[name] = (path, want)
    return files


def test_integer_grey_follows_the_rule_in_every_mode(tmp_path):
    for name, (path, want) in integer_grey_files(tmp_path).items():
        out = read_image(path)
        assert out.shape == (*want.shape, 3), name
        np.testing.assert_array_equal(out[:, :, 0], want, err_msg=name)


def test_a_header_with_no_pixel_data_is_refused_not_black():
    """A TGA header whose type and depth Pillow has no decoder for: no tile, and load()
    into preset memory would return it untouched (black), as Pillow's dilation4.lut did."""
    header = bytes([0, 0, 1]) + bytes(9) + struct.pack("<HH", 20, 20) + bytes([16, 0x20])
    assert reason(header + bytes(800)) == "corrupt image data (no pixel data)"
