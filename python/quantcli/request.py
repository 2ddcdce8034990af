"""What a user asks of ``compress``, in one frozen object every front end builds.

The CLI (:mod:`quantcli.cli.compress_settings`), the web service
(:mod:`quantcli.serve.choices`), the Python API and the Spark engine each turn their own
spelling (options, form fields, keywords) into a :class:`CompressRequest`; its
:meth:`~CompressRequest.settings` are the pipeline's settings
(:class:`quantcli.pipeline.Settings`). How K is chosen, which options go together and
the defaults of ``-k auto`` are decided here, once; a front end only words the errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .errors import InvalidOptionError
from .options import AUTO_QUALITY, DEFAULT_MAX_PIXELS, DEFAULT_RUN_MARGIN, DEFAULT_SPEED, K_MAX, Dither

if TYPE_CHECKING:
    import numpy as np

    from .pipeline import Settings

#: The ways two choices of a request can clash (:attr:`RequestConflict.rule`), in the
#: order they are checked.
CONFLICTS = (
    "quality-and-method",  # a quality target and a choose-k method: two ways of choosing K
    "per-image-k-and-palette",  # K chosen per image with a shared or given palette
    "method-without-auto",  # a choose-k method with a fixed K
    "min-psnr-without-quality-method",  # a PSNR target without the method it is the target of
    "force-and-skip-existing",  # replace existing outputs and leave them alone
)


class RequestConflict(InvalidOptionError):
    """Two choices of a request that do not go together; ``rule`` is one of
    :data:`CONFLICTS`, for the front end to word in its own terms."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


@dataclass(frozen=True)
class CompressRequest:
    """How to compress a batch, checked (see ``quantcli compress --help``).

    ``k`` is the largest palette size, or ``"auto"``: chosen per image, by ``method`` (a
    choose-k method; ``min_psnr`` is the target of ``"quality"``) or, without one, the
    fewest colours reaching the default quality target (:data:`quantcli.options.AUTO_QUALITY`).
    ``quality`` (min, max) takes the fewest colours up to ``k`` reaching max. ``palette``
    is ``"per-image"``, ``"shared"`` (one palette fitted to every input) or a palette to
    remap onto (ndarray of shape (n, 3) or (n, 4), dtype uint8). The fit options are
    :class:`quantcli.options.QuantizeOptions`'s.

    Raises
    ------
    RequestConflict
        When two choices do not go together.
    """

    k: int | Literal["auto"] = K_MAX
    quality: tuple[float, float] | None = None
    method: str | None = None
    min_psnr: float | None = None
    dither: Dither = "auto"
    seed: int = 0
    speed: int = DEFAULT_SPEED
    format: str = "png"  # the output's codec: "png" or "webp" (quantcli.options.FORMATS)
    level: int | None = None
    max_iter: int | None = None
    tol: float | None = None
    run_margin: float = DEFAULT_RUN_MARGIN
    threads: int = 0
    palette: Any = field(default="per-image", compare=False)  # "per-image", "shared" or an ndarray
    force: bool = False
    skip_existing: bool = False
    skip_if_larger: bool = False
    skip_own_outputs: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # None: no limit

    def __post_init__(self) -> None:
        for rule in CONFLICTS:
            if self._clashes(rule):
                raise RequestConflict(rule)

    @property
    def auto(self) -> bool:
        """Whether ``-k auto`` was asked for (K is then chosen per image)."""
        return self.k == "auto"

    @property
    def shared(self) -> bool:
        """Whether one palette is fitted to every input (pass 1 before the batch)."""
        return isinstance(self.palette, str) and self.palette == "shared"

    @property
    def k_per_image(self) -> bool:
        """Whether K is chosen per image (``-k auto`` or a quality target): the output
        names say ``auto``, and an error row has no K."""
        return self.auto or self.quality is not None

    def settings(self, *, palette: np.ndarray | None = None, threads: int | None = None) -> Settings:
        """The pipeline settings of the request; ``palette`` is the shared palette once
        pass 1 has fitted it, ``threads`` overrides the request's threads per image.

        Raises
        ------
        InvalidOptionError
            For a value out of range (:class:`quantcli.options.QuantizeOptions`).
        """
        from .options import QuantizeOptions
        from .pipeline import Settings

        options = QuantizeOptions(
            k=K_MAX if self.auto else int(self.k),  # type: ignore[arg-type]
            seed=self.seed,
            dither=self.dither,
            max_iter=self.max_iter,  # type: ignore[arg-type]  # None: the speed preset's
            tol=self.tol,  # type: ignore[arg-type]
            level=self.level,  # type: ignore[arg-type]
            threads=self.threads if threads is None else threads,
            run_margin=self.run_margin,
            speed=self.speed,
            format=self.format,  # type: ignore[arg-type]
        )
        quality, choose = self.quality, None
        if self.auto and self.method is not None:
            from .choosek_types import ChooseKOptions

            psnr = {} if self.min_psnr is None else {"min_psnr": self.min_psnr}
            choose = ChooseKOptions(method=self.method, bytes_level=None, **psnr)
        elif self.auto and quality is None:
            quality = AUTO_QUALITY
        fixed = palette if palette is not None else None if isinstance(self.palette, str) else self.palette
        return Settings(
            options=options,
            quality=quality,
            choose=choose,
            palette=fixed,
            force=self.force,
            skip_if_larger=self.skip_if_larger,
            skip_own_outputs=self.skip_own_outputs,
            skip_existing=self.skip_existing,
            max_pixels=self.max_pixels or None,
        )

    def _clashes(self, rule: str) -> bool:
        if rule == "quality-and-method":
            return self.quality is not None and self.method is not None
        if rule == "per-image-k-and-palette":
            return self.k_per_image and not (isinstance(self.palette, str) and self.palette == "per-image")
        if rule == "method-without-auto":
            return self.method is not None and not self.auto
        if rule == "min-psnr-without-quality-method":
            return self.min_psnr is not None and self.method != "quality"
        return self.force and self.skip_existing
