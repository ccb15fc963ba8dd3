"""统一社会信用代码 (unified social credit code), GB 32100-2015: 18 characters, the last a
check character computed from the first 17 (weights 3^i mod 31 over a 31-character set)."""

import re

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_FORM = re.compile(r"^[1-9A-HNY][1-9A-Z][0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def check_character(first17: str) -> str:
    total = sum(CHARSET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def validate_uscc(code: str) -> str:
    """The code if it is a well-formed USCC with the right check character; else ValueError."""
    if not _FORM.match(code) or any(c not in CHARSET for c in code):
        raise ValueError(
            "a 统一社会信用代码 is 18 characters: digits and capital letters except I, O, S, V, Z"
        )
    if check_character(code[:17]) != code[17]:
        raise ValueError(
            f"the check character should be {check_character(code[:17])}, not {code[17]}"
        )
    return code
