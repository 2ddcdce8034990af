"""The user's choices for a job or an upload (form fields or query parameters), checked
once here, and the pipeline settings they stand for."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidOptionError
from ..options import DITHER_MODES, K_MAX, K_MIN
from ..request import CompressRequest, RequestConflict

if TYPE_CHECKING:
    import numpy as np

    from ..pipeline import Settings
    from .db import Job


@dataclass(frozen=True)
class Choices:
    """How the user asked for an image to be compressed, checked.

    ``k`` is a palette size or ``"auto"``: the fewest colours reaching ``quality`` (default
    ``compress -k auto``'s target), or, with ``min_psnr``, the smallest K reaching that
    PSNR (``compress -k auto --method quality``). ``quality`` ("MIN-MAX" or "MAX") also
    applies with a fixed K, up to that K. ``dither`` is auto, on, off or a strength.
    """

    k: str = str(K_MAX)
    dither: str = "auto"
    shared: bool = False
    quality: str | None = None
    min_psnr: float | None = None

    @property
    def auto(self) -> bool:
        """Whether k=auto was asked for (K chosen per image for the default or a PSNR target)."""
        return self.k == "auto"

    @property
    def k_rule(self) -> str | None:
        """How K was chosen, for people ("the fewest colours reaching quality 80, the
        default"); None for a fixed K with no quality target."""
        from ..options import AUTO_QUALITY
        from ..quality import parse_quality

        if self.auto and self.min_psnr is not None:
            return f"the smallest K reaching {self.min_psnr:g} dB PSNR"
        if self.quality is not None:
            low, high = parse_quality(self.quality)
        elif self.auto:
            low, high = AUTO_QUALITY
        else:
            return None
        rule = "the fewest colours" + ("" if self.auto else f" up to {self.k}") + f" reaching quality {high}"
        if low:
            rule += f", at least {low}"
        return rule if self.quality is not None else rule + ", the default"

    @property
    def target(self) -> str | None:
        """The target K was chosen for, for people ("quality 85", "38 dB PSNR"); None for a
        fixed K with no quality target."""
        from ..options import AUTO_QUALITY
        from ..quality import parse_quality

        if self.auto and self.min_psnr is not None:
            return f"{self.min_psnr:g} dB PSNR"
        if self.quality is not None:
            return f"quality {parse_quality(self.quality)[1]}"
        return f"quality {AUTO_QUALITY[1]}" if self.auto else None

    def k_reason(self, target_met: bool | None) -> str | None:
        """How K was chosen for one image: :attr:`k_rule`, or, when its target was missed,
        that no K allowed reaches it and the most colours allowed were used."""
        if target_met is not False or self.target is None:
            return self.k_rule
        return f"no K up to {K_MAX if self.auto else self.k} reaches {self.target}: the most colours allowed"


def target_outcome(image: dict[str, Any], choices: Choices | None) -> str | None:
    """Whether an image's target was met, and the value reached, for people: "met: quality
    86.2 (the target: quality 85)", "missed: 31.4 dB PSNR (the target: 38 dB PSNR)"; None
    when K had no target. ``image`` is the API's JSON of the image; ``choices`` those of
    its job (None for an image stored through the API: the target is then not named)."""
    met = image.get("target_met")
    if met is None:
        return None
    if image.get("quality") is not None:
        reached = f"quality {image['quality']:.1f}"
    elif image.get("psnr") is not None:
        reached = f"{image['psnr']:.1f} dB PSNR"
    else:
        reached = "lossless"
    outcome = f"{'met' if met else 'missed'}: {reached}"
    target = choices.target if choices is not None else None
    return outcome + (f" (the target: {target})" if target else "")


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def parse_dither(value: str | bool | None) -> str:
    """``dither``: auto (absent), on/off (or any yes/no word), or a strength from 0 to 1."""
    if value is None or value == "" or value == "auto":
        return "auto"
    if isinstance(value, bool):
        return "on" if value else "off"
    text = value.strip().lower()
    if text in _TRUE:
        return "on"
    if text in _FALSE:
        return "off"
    try:
        strength = float(text)
    except ValueError:
        raise InvalidOptionError(f"dither must be auto, on, off or a number from 0 to 1, got {value!r}") from None
    if not 0 <= strength <= 1:
        raise InvalidOptionError(f"dither must be auto, on, off or a number from 0 to 1, got {value!r}")
    return repr(strength)


def parse_bool(name: str, value: str | bool | None) -> bool:
    """A yes/no parameter: 1/0, true/false, yes/no, on/off (absent: no)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidOptionError(f"{name} must be true or false, got {value!r}")


def parse_choices(
    k: str | None = None,
    dither: str | bool | None = None,
    shared: str | bool | None = None,
    quality: str | None = None,
    min_psnr: str | float | None = None,
) -> Choices:
    """Check the parameters of an upload (form fields or query parameters).

    Raises
    ------
    InvalidOptionError
        With a one-line message naming the parameter and the value.
    """
    text = (k or str(K_MAX)).strip().lower()
    if text != "auto":
        try:
            number = int(text)
        except ValueError:
            raise InvalidOptionError(f"k must be a number from {K_MIN} to {K_MAX} or auto, got {k!r}") from None
        if not K_MIN <= number <= K_MAX:
            raise InvalidOptionError(f"k must be from {K_MIN} to {K_MAX} or auto, got {number}")
        text = str(number)
    target = None
    if min_psnr not in (None, ""):
        try:
            target = float(min_psnr)
        except (TypeError, ValueError):
            raise InvalidOptionError(f"min_psnr must be a number of dB, got {min_psnr!r}") from None
        if not (math.isfinite(target) and 1 <= target <= 100):
            raise InvalidOptionError(f"min_psnr must be from 1 to 100 dB, got {min_psnr!r}")
    if quality in ("", None):
        quality = None
    elif len(quality) > 32:
        raise InvalidOptionError("quality is too long")
    choices = Choices(
        k=text, dither=parse_dither(dither), shared=parse_bool("shared", shared), quality=quality, min_psnr=target
    )
    settings_for(choices)  # every check the request and the options object make, now rather than in a worker
    return choices


def choices_of(job: Job) -> Choices:
    """The choices a job was created with."""
    return Choices(k=job.k, dither=job.dither, shared=job.shared, quality=job.quality, min_psnr=job.min_psnr)


def request_of(choices: Choices, *, max_pixels: int | None = None) -> CompressRequest:
    """The compress request the choices stand for; outputs are overwritten (a job that
    is resumed after a restart writes its outputs again).

    Raises
    ------
    InvalidOptionError
        When two choices do not go together, in the web form's words.
    """
    from ..quality import parse_quality

    extra: dict[str, Any] = {} if max_pixels is None else {"max_pixels": max_pixels}
    try:
        return CompressRequest(
            k="auto" if choices.auto else int(choices.k),
            quality=None if choices.quality is None else parse_quality(choices.quality),
            method=None if choices.min_psnr is None else "quality",
            min_psnr=choices.min_psnr,
            dither=choices.dither if choices.dither in DITHER_MODES else float(choices.dither),
            palette="shared" if choices.shared else "per-image",
            force=True,
            **extra,
        )
    except RequestConflict as exc:
        raise InvalidOptionError(_conflict_words(exc.rule, choices)) from None


def _conflict_words(rule: str, choices: Choices) -> str:
    """A clash of :data:`quantcli.request.CONFLICTS` in the web form's words."""
    if rule == "per-image-k-and-palette":
        what = "k=auto picks" if choices.auto else "quality picks"
        return f"{what} K per image; it does not combine with a shared palette"
    if rule == "quality-and-method":
        return "give either quality or min_psnr, not both"
    return "min_psnr is the target of k=auto; give k=auto with it"  # the only other clash a form can make


def settings_for(
    choices: Choices, *, threads: int = 0, palette: np.ndarray | None = None, max_pixels: int | None = None
) -> Settings:
    """The pipeline settings for the choices (see :func:`request_of`)."""
    return request_of(choices, max_pixels=max_pixels).settings(palette=palette, threads=threads)
