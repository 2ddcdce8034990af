"""The HTTP API, ``/api/v1``: compress without storing, or store images and their
results; ``Authorization: Bearer KEY`` on every route."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.responses import Response

from ..errors import InvalidOptionError
from .choices import Choices, parse_choices, settings_for
from .compressing import png_name
from .db import DONE, Image
from .pool import Busy
from .storage import StorageError
from .uploads import UploadRefused
from .web import ApiUser, api_user, download_headers, owned, read_stored, read_upload, service
from .work import StoredImage

router = APIRouter(prefix="/api/v1", tags=["images"])

RAW_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The image file's bytes (PNG, JPEG, GIF, BMP, TIFF, WebP, ...), not a form.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or wrong API key"},
    413: {"description": "Upload over the server's size limit, or image over its pixel limit"},
    422: {"description": "Bad parameter, or not a readable image (the reason is in detail)"},
    503: {
        "description": "Every worker busy and the queue full, the server out of memory, or out of storage "
        "(nothing was kept); retry after Retry-After seconds"
    },
}

UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Empty request body: send the image's bytes"},
    **ERRORS,
}

KQuery = Annotated[str | None, Query(description="Palette size, 2 to 256 (default 256), or auto.")]
DitherQuery = Annotated[
    str | None,
    Query(
        description="Error diffusion in smooth areas: auto (default, the best quality per byte), on, off, or 0 to 1."
    ),
]
QualityQuery = Annotated[
    str | None,
    Query(
        description="MIN-MAX or MAX on a 0-100 scale that tracks SSIMULACRA2: the fewest colours reaching MAX, "
        "up to k (256 with k=auto); a fixed k is a cap, as in `compress -k 64 --quality 90`. Below MIN: 422."
    ),
]
MinPsnrQuery = Annotated[
    str | None,
    Query(
        description="Only with k=auto (422 otherwise): the smallest K reaching this PSNR in dB, instead of "
        "the quality target. It searches every K, so it takes no cap; use quality for a cap."
    ),
]
NameQuery = Annotated[str | None, Query(description="The file's name: a label only.", max_length=1024)]


class PaletteEntry(BaseModel):
    """One palette colour and how many pixels have it."""

    rgb: list[int] = Field(description="Red, green, blue, 0 to 255")
    alpha: int = Field(description="0 (transparent) to 255 (opaque)")
    count: int = Field(description="Pixels of this colour")


class ImageInfo(BaseModel):
    """A stored image and its result."""

    id: str
    name: str = Field(description="The uploaded file's name (a label)")
    status: str = Field(description="pending, running, done or error")
    error: str | None = None
    k: int | None = Field(None, description="The palette size asked for (or chosen, with k=auto)")
    colors: int | None = Field(None, description="Colours in the result")
    width: int
    height: int
    bytes_in: int
    bytes_out: int | None = None
    ratio: float | None = Field(None, description="bytes_out / bytes_in")
    psnr: float | None = Field(None, description="dB; null when lossless")
    quality: float | None = Field(
        None, description="With a quality target: the quality reached (0-100), the palette's; else null"
    )
    target_met: bool | None = Field(
        None,
        description="With a target (quality, or k=auto with min_psnr): whether the K used reaches it; false: "
        "even the largest K allowed stays below it, and that K was used. Null without a target.",
    )
    palette: list[PaletteEntry] | None = Field(None, description="Dominant colour first")
    job: str | None = Field(None, description="The upload-page job it belongs to")
    created_at: datetime


class ImageList(BaseModel):
    """A page of the user's images, newest first."""

    images: list[ImageInfo]


def image_info(row: Image) -> dict[str, Any]:
    """An image row as the API's JSON."""
    ratio = round(row.bytes_out / row.bytes_in, 6) if row.bytes_out is not None and row.bytes_in else None
    return {
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "error": row.error,
        "k": row.k,
        "colors": row.colors,
        "width": row.width,
        "height": row.height,
        "bytes_in": row.bytes_in,
        "bytes_out": row.bytes_out,
        "ratio": ratio,
        "psnr": None if row.psnr is None else round(row.psnr, 4),
        "quality": None if row.quality is None else round(row.quality, 2),
        "target_met": row.target_met,
        "palette": None if row.palette_json is None else json.loads(row.palette_json),
        "job": row.job_id,
        "created_at": row.created_at,
    }


def query_choices(
    k: KQuery = None, dither: DitherQuery = None, quality: QualityQuery = None, min_psnr: MinPsnrQuery = None
) -> Choices:
    """Dependency: the compression parameters of the query, checked (422 with the reason)."""
    try:
        return parse_choices(k=k, dither=dither, quality=quality, min_psnr=min_psnr)
    except InvalidOptionError as exc:
        raise HTTPException(422, str(exc)) from None


QueryChoices = Annotated[Choices, Depends(query_choices)]


async def accept_or_refuse(request: Request, user_id: int, name: str | None, **job: Any) -> StoredImage:
    """Read, check and store an upload (413/422 when refused)."""
    data = await read_upload(request)
    try:
        return await run_in_threadpool(service(request).accept, user_id, data, name, **job)
    except UploadRefused as exc:
        raise HTTPException(exc.status, exc.reason) from None
    except InvalidOptionError as exc:
        raise HTTPException(409, str(exc)) from None
    except StorageError as exc:  # nothing of the upload was kept
        raise HTTPException(503, str(exc), {"Retry-After": "60"}) from None


async def on_pool(request: Request, fn: Any, *args: Any) -> Any:
    """Run work on the worker pool and wait for it without holding the event loop."""
    try:
        future = service(request).run_now(fn, *args)
    except Busy:
        raise HTTPException(503, "the server is busy; try again shortly", {"Retry-After": "5"}) from None
    return await asyncio.wrap_future(future)


@router.post(
    "/compress",
    summary="Compress an image; nothing is stored",
    response_class=Response,
    responses={
        200: {
            "content": {"image/png": {}},
            "description": "The palette PNG. Headers: X-Quantcli-K, X-Quantcli-Colors, X-Quantcli-Bytes-In, "
            "X-Quantcli-Bytes-Out, X-Quantcli-Ratio, X-Quantcli-PSNR (dB, or inf when lossless); with a "
            "target, X-Quantcli-Target-Met (true or false) and, for a quality target, X-Quantcli-Quality "
            "(the quality reached, 0-100).",
        },
        **UPLOAD_ERRORS,
    },
    openapi_extra=RAW_IMAGE_BODY,
)
async def compress(
    request: Request,
    user: Annotated[ApiUser, Depends(api_user)],
    choices: QueryChoices,
    name: NameQuery = None,
) -> Response:
    """Quantize the request body's image and answer the PNG."""
    from .uploads import check_upload, label_of

    data = await read_upload(request)
    svc = service(request)
    label = label_of(name)
    try:
        width, height = await run_in_threadpool(check_upload, data, label, svc.config.max_pixels)
    except UploadRefused as exc:
        raise HTTPException(exc.status, exc.reason) from None
    settings = settings_for(choices, threads=svc.pool.threads_per_image, max_pixels=svc.config.max_pixels)
    done = await on_pool(request, svc.compress_upload, data, label, settings, width * height)
    result = done.result
    if not done.ok:
        _refuse_failed(result.error)
    headers = {
        "x-quantcli-k": str(result.k),
        "x-quantcli-colors": str(result.colors),
        "x-quantcli-bytes-in": str(result.bytes_in),
        "x-quantcli-bytes-out": str(result.bytes_out),
        "x-quantcli-ratio": f"{result.ratio:.6f}",
        "x-quantcli-psnr": "inf" if result.psnr is None else f"{result.psnr:.4f}",
    }
    if result.target_met is not None:
        headers["x-quantcli-target-met"] = "true" if result.target_met else "false"
    if result.quality is not None:
        headers["x-quantcli-quality"] = f"{result.quality:.2f}"
    return Response(done.png, media_type="image/png", headers=headers)


@router.post(
    "/images",
    summary="Compress an image and store both",
    status_code=201,
    response_model=ImageInfo,
    responses=UPLOAD_ERRORS,
    openapi_extra=RAW_IMAGE_BODY,
)
async def create_image(
    request: Request,
    user: Annotated[ApiUser, Depends(api_user)],
    choices: QueryChoices,
    name: NameQuery = None,
) -> Response:
    """Store the upload, compress it, store the result; answers its JSON (201). An image
    that cannot be read is not kept (422)."""
    svc = service(request)
    image = await accept_or_refuse(request, user.user_id, name)
    settings = settings_for(choices, threads=svc.pool.threads_per_image, max_pixels=svc.config.max_pixels)
    try:
        await on_pool(request, svc.process, image, settings)
    except BaseException:
        await run_in_threadpool(_delete, request, user.user_id, image.id)
        raise
    row = await run_in_threadpool(_get, request, user.user_id, image.id)
    if row.status != DONE:
        await run_in_threadpool(_delete, request, user.user_id, image.id)
        _refuse_failed(row.error)
    body = ImageInfo.model_validate(image_info(row)).model_dump_json()
    return Response(body, 201, media_type="application/json", headers={"location": f"/api/v1/images/{image.id}"})


@router.get("/images", summary="List your images", response_model=ImageList, responses={401: ERRORS[401]})
def list_images(
    request: Request,
    user: Annotated[ApiUser, Depends(api_user)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Your images, newest first."""
    with service(request).db.session() as s:
        rows = s.scalars(
            select(Image)
            .where(Image.user_id == user.user_id)
            .order_by(Image.created_at.desc(), Image.position.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        return {"images": [image_info(row) for row in rows]}


@router.get("/images/{image_id}", summary="One image's result", response_model=ImageInfo, responses=ERRORS)
def get_image(request: Request, image_id: str, user: Annotated[ApiUser, Depends(api_user)]) -> dict[str, Any]:
    """The image's JSON (404 when it is not yours)."""
    return image_info(_get(request, user.user_id, image_id))


@router.get(
    "/images/{image_id}/output.png",
    summary="The compressed PNG",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 409: {"description": "Not done (yet)"}, **ERRORS},
)
def get_output(request: Request, image_id: str, user: Annotated[ApiUser, Depends(api_user)]) -> Response:
    """The result's bytes."""
    row = _get(request, user.user_id, image_id)
    if row.status != DONE or row.output_key is None:
        raise HTTPException(409, f"no output: the image is {row.status}")
    data = read_stored(request, row.output_key)
    return Response(data, media_type="image/png", headers=download_headers(png_name(row.name), attachment=True))


@router.get(
    "/images/{image_id}/source",
    summary="The uploaded file",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, **ERRORS},
)
def get_source(request: Request, image_id: str, user: Annotated[ApiUser, Depends(api_user)]) -> Response:
    """The upload's bytes, as they were sent."""
    row = _get(request, user.user_id, image_id)
    data = read_stored(request, row.source_key)
    media_type = row.media_type or "application/octet-stream"
    return Response(data, media_type=media_type, headers=download_headers(row.name, attachment=True))


@router.delete("/images/{image_id}", summary="Delete an image", status_code=204, responses=ERRORS)
def delete_image(request: Request, image_id: str, user: Annotated[ApiUser, Depends(api_user)]) -> Response:
    """Delete the image, its result and its files."""
    _get(request, user.user_id, image_id)
    _delete(request, user.user_id, image_id)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------


#: The error of an image the server ran out of memory for (the pipeline's words).
OUT_OF_MEMORY = "out of memory"


def _refuse_failed(error: str | None) -> None:
    """The answer for an image that failed: 422 with the reason, or 503 when the server ran
    out of memory (the image may well go through later)."""
    if error == OUT_OF_MEMORY:
        raise HTTPException(503, "the server is out of memory just now; try again later", {"Retry-After": "30"})
    raise HTTPException(422, error or "not a readable image")


def _get(request: Request, user_id: int, image_id: str) -> Image:
    with service(request).db.session() as s:
        return owned(s, Image, image_id, user_id)


def _delete(request: Request, user_id: int, image_id: str) -> None:
    service(request).delete_image(user_id, image_id)
