"""The web pages of the work: upload, job progress and downloads, results, history.

Pages use the session cookie; every request that changes something carries the session's
CSRF token (a form field, or the ``X-CSRF-Token`` header from the page's script).
"""

from __future__ import annotations

import json
import re
import tempfile
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from starlette.responses import RedirectResponse, Response, StreamingResponse

from ..errors import InvalidOptionError
from .api_v1 import accept_or_refuse, image_info, on_pool
from .charts import curve_svg
from .choices import choices_of, parse_choices
from .compressing import png_name
from .config import MAX_JOB_IMAGES
from .db import DONE, ERROR, FAILED, OPEN, PENDING, QUEUED, RUNNING, Image, Job, Refusal
from .storage import StorageError
from .web import (
    User,
    check_csrf,
    download_headers,
    owned,
    read_stored,
    render,
    service,
    signed_in,
)
from .work import OPEN_JOB_LIFETIME, StoredImage

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------------------------------
# Upload


@router.get("/")
def upload_page(request: Request, user: User) -> Response:
    svc = service(request)
    return render(
        request,
        "upload.html",
        user=user,
        max_upload=svc.config.max_upload,
        max_pixels=svc.config.max_pixels,
        max_images=MAX_JOB_IMAGES,
    )


@router.post("/jobs", status_code=201)
def create_job(
    request: Request,
    user: User,
    k: Annotated[str, Form(max_length=16)] = "256",
    dither: Annotated[str | None, Form(max_length=8)] = None,
    shared: Annotated[str | None, Form(max_length=8)] = None,
    quality: Annotated[str | None, Form(max_length=32)] = None,
    min_psnr: Annotated[str | None, Form(max_length=16)] = None,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> dict[str, str]:
    """A new job for the files the page is about to upload."""
    check_csrf(request, user.csrf, csrf_token)
    try:
        choices = parse_choices(k=k, dither=dither, shared=shared, quality=quality, min_psnr=min_psnr)
    except InvalidOptionError as exc:
        raise HTTPException(422, str(exc)) from None
    with service(request).db.session() as s:
        job = Job(
            user_id=user.user_id,
            k=choices.k,
            dither=choices.dither,
            shared=choices.shared,
            quality=choices.quality,
            min_psnr=choices.min_psnr,
        )
        s.add(job)
        s.flush()
        return {"id": job.id, "url": f"/jobs/{job.id}"}


@router.put("/jobs/{job_id}/images", status_code=201)
async def upload_to_job(request: Request, job_id: str, name: Annotated[str | None, Query(max_length=1024)] = None):
    """One file of a job, as the request body (413 over --max-upload or --max-pixels, 422
    not an image, 400 empty); a refused file is listed on the job's page with the reason."""
    user = await run_in_threadpool(signed_in, request)
    check_csrf(request, user.csrf)
    await run_in_threadpool(_owned_in_thread, request, Job, job_id, user.user_id)
    try:
        image = await accept_or_refuse(request, user.user_id, name, job_id=job_id)
    except HTTPException as exc:
        if exc.status_code in (400, 413, 422, 503):
            await run_in_threadpool(_refuse, request, job_id, name, exc.status_code, str(exc.detail))
        raise
    return {"id": image.id, "name": image.name}


@router.post("/jobs/{job_id}/refused", status_code=201)
def refused_by_page(
    request: Request,
    job_id: str,
    user: User,
    name: Annotated[str, Form(max_length=1024)] = "",
    size: Annotated[int, Form(ge=0)] = 0,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> dict[str, str]:
    """A file the upload page did not send because its size is over --max-upload: listed
    on the job's page like a file the server refused (422 when the size is within it)."""
    from .config import format_size

    check_csrf(request, user.csrf, csrf_token)
    svc = service(request)
    with svc.db.session() as s:
        _job_in(s, user.user_id, job_id)
    if size <= svc.config.max_upload:
        raise HTTPException(422, "the file is within the size limit; upload it")
    reason = f"upload too large: more than the limit of {format_size(svc.config.max_upload)} per file"
    _refuse(request, job_id, name, 413, reason)
    return {"reason": reason}


@router.post("/jobs/{job_id}/start", status_code=202)
def start_job(request: Request, job_id: str, user: User) -> dict[str, str]:
    """Queue a job once its files are uploaded."""
    check_csrf(request, user.csrf)
    svc = service(request)
    with svc.db.session() as s:
        job = _job_in(s, user.user_id, job_id)
        if job.status == OPEN:
            if not job.images:
                raise HTTPException(409, "the job has no images")
            job.status = QUEUED
    svc.wake()
    return {"url": f"/jobs/{job_id}"}


# ---------------------------------------------------------------------------------------
# Jobs


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str, user: User) -> Response:
    with service(request).db.session() as s:
        job = _job_in(s, user.user_id, job_id)
        progress = _progress(job)
        images = [image_info(row) | {"jpeg": row.media_type == "image/jpeg"} for row in job.images]
        return render(
            request, "job.html", user=user, job=job, progress=progress, images=images, settings=choices_of(job)
        )


@router.get("/jobs/{job_id}/status")
def job_status(request: Request, job_id: str, user: User) -> dict[str, Any]:
    """Progress of a job, polled by its page."""
    with service(request).db.session() as s:
        return _progress(_job_in(s, user.user_id, job_id))


@router.get("/jobs/{job_id}/download.zip")
def job_zip(request: Request, job_id: str, user: User) -> Response:
    """Every finished PNG of a job in one zip, named after the uploads."""
    svc = service(request)
    with svc.db.session() as s:
        job = _job_in(s, user.user_id, job_id)
        files = [(row.name, row.output_key) for row in job.images if row.status == DONE and row.output_key]
    if not files:
        raise HTTPException(409, "no finished images in this job yet")
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 (closed by chunks())
    used: set[str] = set()
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for name, key in files:
            archive.writestr(_unique(zip_entry_name(png_name(name)), used), svc.store.read(key))
    spool.seek(0)

    def chunks():
        try:
            while chunk := spool.read(1024 * 1024):
                yield chunk
        finally:
            spool.close()

    headers = download_headers(f"quantcli-{job_id}.zip", attachment=True)
    return StreamingResponse(chunks(), media_type="application/zip", headers=headers)


@router.post("/jobs/{job_id}/delete")
def delete_job(request: Request, job_id: str, user: User, csrf_token: Annotated[str, Form(max_length=128)] = ""):
    check_csrf(request, user.csrf, csrf_token)
    if not service(request).delete_job(user.user_id, job_id):
        raise HTTPException(404, "not found")
    return RedirectResponse("/history", 303)


@router.get("/history")
def history(request: Request, user: User) -> Response:
    with service(request).db.session() as s:
        jobs = s.scalars(select(Job).where(Job.user_id == user.user_id).order_by(Job.created_at.desc())).all()
        rows = [(job, _progress(job)) for job in jobs]
        loose = s.scalars(
            select(Image).where(Image.user_id == user.user_id, Image.job_id.is_(None)).order_by(Image.created_at.desc())
        ).all()
        api_images = [image_info(row) for row in loose]
        return render(
            request, "history.html", user=user, jobs=rows, api_images=api_images, open_lifetime=OPEN_JOB_LIFETIME
        )


# ---------------------------------------------------------------------------------------
# Images


@router.get("/images/{image_id}")
def image_page(request: Request, image_id: str, user: User) -> Response:
    with service(request).db.session() as s:
        row = _image_in(s, user.user_id, image_id)
        info = image_info(row)
        curve = json.loads(row.curve_json) if row.curve_json else None
        job = row.job
        settings = choices_of(job) if job is not None else None
        return render(request, "image.html", user=user, image=info, curve=curve, settings=settings)


@router.get("/images/{image_id}/output.png")
def image_output(request: Request, image_id: str, user: User, download: bool = False) -> Response:
    with service(request).db.session() as s:
        row = _image_in(s, user.user_id, image_id)
        if row.status != DONE or row.output_key is None:
            raise HTTPException(409, f"no output: the image is {row.status}")
        key, name = row.output_key, row.name
    data = read_stored(request, key)
    return Response(data, media_type="image/png", headers=download_headers(png_name(name), attachment=download))


@router.get("/images/{image_id}/source")
def image_source(request: Request, image_id: str, user: User) -> Response:
    """The uploaded file as it was sent, as a download."""
    with service(request).db.session() as s:
        row = _image_in(s, user.user_id, image_id)
        key, name, media_type = row.source_key, row.name, row.media_type
    data = read_stored(request, key)
    headers = download_headers(name, attachment=True)
    return Response(data, media_type=media_type or "application/octet-stream", headers=headers)


@router.get("/images/{image_id}/before")
async def image_before(request: Request, image_id: str) -> Response:
    """The source for the before/after view: as uploaded when browsers show its format,
    else a PNG of its pixels."""
    user = await run_in_threadpool(signed_in, request)
    row = await run_in_threadpool(_owned_in_thread, request, Image, image_id, user.user_id)
    headers = download_headers(row.name, attachment=False)
    if row.media_type:
        return Response(
            await run_in_threadpool(read_stored, request, row.source_key), media_type=row.media_type, headers=headers
        )
    stored = StoredImage.of(row)
    try:
        png = await on_pool(request, service(request).preview, stored)
    except InvalidOptionError as exc:
        raise HTTPException(422, str(exc)) from None
    except StorageError:
        raise
    except Exception:
        raise HTTPException(422, "the source cannot be shown") from None
    return Response(png, media_type="image/png", headers=headers)


@router.get("/images/{image_id}/curve")
def image_curve(request: Request, image_id: str, user: User) -> Response:
    """The choose-k curve's data: computed on the first request (202 while it runs)."""
    svc = service(request)
    with svc.db.session() as s:
        row = _image_in(s, user.user_id, image_id)
        if row.curve_json:
            return Response(f'{{"status": "done", "curve": {row.curve_json}}}', media_type="application/json")
        if row.status != DONE or row.k is None:
            raise HTTPException(409, f"no curve: the image is {row.status}")
        stored, k = StoredImage.of(row), row.k
    started = svc.request_curve(stored, k)
    body = json.dumps({"status": "pending" if started else "busy"})
    return Response(body, 202, media_type="application/json", headers={"Retry-After": "1"})


@router.get("/images/{image_id}/curve.svg")
def image_curve_svg(request: Request, image_id: str, user: User) -> Response:
    with service(request).db.session() as s:
        row = _image_in(s, user.user_id, image_id)
        if not row.curve_json:
            raise HTTPException(409, "the curve is not computed yet")
        curve = json.loads(row.curve_json)
    return Response(curve_svg(curve), media_type="image/svg+xml")


@router.post("/images/{image_id}/delete")
def delete_image(request: Request, image_id: str, user: User, csrf_token: Annotated[str, Form(max_length=128)] = ""):
    check_csrf(request, user.csrf, csrf_token)
    found, job_id = service(request).delete_image(user.user_id, image_id)
    if not found:
        raise HTTPException(404, "not found")
    return RedirectResponse(f"/jobs/{job_id}" if job_id else "/history", 303)


# ---------------------------------------------------------------------------------------


def _job_in(session: Any, user_id: int, job_id: str) -> Job:
    return owned(session, Job, job_id, user_id)


def _image_in(session: Any, user_id: int, image_id: str) -> Image:
    return owned(session, Image, image_id, user_id)


def _refuse(request: Request, job_id: str, name: str | None, status: int, reason: str) -> None:
    """Record a file refused for an open job (at most as many as a job's images)."""
    from .uploads import label_of

    try:
        with service(request).db.session() as s:
            job = s.get(Job, job_id)
            if job is None or job.status != OPEN or len(job.refusals) >= MAX_JOB_IMAGES:
                return
            job.refusals.append(Refusal(name=label_of(name), status=status, reason=reason))
    except OperationalError:  # the database is full too: the answer still says why
        return


def _owned_in_thread(request: Request, model: Any, object_id: str, user_id: int) -> Any:
    with service(request).db.session() as s:
        return owned(s, model, object_id, user_id)


def _progress(job: Job) -> dict[str, Any]:
    counts = {PENDING: 0, RUNNING: 0, DONE: 0, ERROR: 0}
    for row in job.images:
        counts[row.status] = counts.get(row.status, 0) + 1
    total = len(job.images)
    finished = counts[DONE] + counts[ERROR]
    return {
        "id": job.id,
        "status": job.status,
        "state": _state(job),
        "error": job.error,
        "total": total,
        "done": counts[DONE],
        "errors": counts[ERROR],
        "finished": finished,
        "percent": round(100 * finished / total) if total else (100 if job.status in (DONE, FAILED) else 0),
        "refused": len(job.refusals),
    }


#: Names Windows gives to devices, whatever the extension (``con.png`` is the console).
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"{port}{n}" for port in ("COM", "LPT") for n in [*"0123456789", "\u00b9", "\u00b2", "\u00b3"]]
)
_WINDOWS_REFUSED = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def zip_entry_name(name: str) -> str:
    """An uploaded file's name as a zip entry that unzips on Windows, macOS and Linux: no
    ``<>:"/\\|?*`` or control characters (each becomes ``_``), no trailing dot or space,
    and not a device name (``con.png`` becomes ``_con.png``)."""
    safe = _WINDOWS_REFUSED.sub("_", name).rstrip(" .") or "image"
    if safe.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
        safe = "_" + safe
    return safe


def _state(job: Job) -> str:
    """A job's status in words: ``never started`` for an open job, and ``being recovered``
    for a running job whose server has not renewed its claim for two rounds (it stopped;
    another server, or this one after a restart, queues the job again when the claim
    lapses)."""
    from datetime import timedelta

    from .db import utcnow
    from .work import LEASE, RENEW_EVERY

    if job.status == OPEN:
        return "never started"
    if job.status == RUNNING:
        renewed = None if job.lease_until is None else job.lease_until - LEASE
        if renewed is None or utcnow() - renewed > timedelta(seconds=2 * RENEW_EVERY):
            return "being recovered: its server stopped, and it resumes within a minute"
    return job.status


def _unique(name: str, used: set[str]) -> str:
    """``name``, or ``stem-2.png``, ``stem-3.png``... when taken (names in a zip)."""
    candidate, n = name, 1
    while candidate.lower() in used:
        n += 1
        stem = name[: -len(".png")] if name.lower().endswith(".png") else name
        candidate = f"{stem}-{n}.png"
    used.add(candidate.lower())
    return candidate
