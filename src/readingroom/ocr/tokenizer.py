"""A character-level tokeniser for the OCR decoder: one token per character of :data:`ALPHABET`.

Ids ``0..3`` are the special tokens ``<pad>`` (0), ``<bos>``, ``<eos>`` and ``<unk>``; the
characters of the alphabet follow in alphabet order, so the default vocabulary has
``4 + len(ALPHABET) = 49`` entries. Characters outside the alphabet become ``<unk>`` unless the
caller asks for ``strict=True``, which raises instead.

Character tokens and the paper's tokens are not the same unit. DeepSeek-OCR quotes its
compression ratio as text tokens per vision token, counting text tokens with its own BPE
tokeniser, and English BPE vocabularies average roughly four characters per token
(:data:`CHARS_PER_BPE_TOKEN`). A ratio measured here in characters per vision token is therefore
about four times the ratio in BPE tokens per vision token: 40 characters per vision token is
roughly the paper's "10x". Divide by :data:`CHARS_PER_BPE_TOKEN` before comparing with the paper,
and treat the result as an estimate, since the characters-per-token figure varies with the text
and the tokeniser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from readingroom.common.checks import check_int
from readingroom.ocr.text import ALPHABET

__all__ = ["CHARS_PER_BPE_TOKEN", "SPECIAL_TOKENS", "CharTokenizer"]

#: Rough average number of characters per token of an English BPE vocabulary. Use it to turn
#: characters per vision token into the paper's text (BPE) tokens per vision token. It is a rule
#: of thumb, not a property of DeepSeek-OCR's tokeniser: code, numbers and other languages give
#: fewer characters per token, plain English prose a few more.
CHARS_PER_BPE_TOKEN: float = 4.0

#: The special tokens, in id order: ``<pad>`` is id 0.
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<bos>", "<eos>", "<unk>")


def _check_str(text: object, name: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    return text


@dataclass(frozen=True)
class CharTokenizer:
    """Map text to integer ids one character at a time, and back.

    Args:
        alphabet: the characters to give ids to, in id order (after the four special tokens).
            Defaults to :data:`~readingroom.ocr.text.ALPHABET`.
    """

    alphabet: str = ALPHABET
    _char_to_id: dict[str, int] = field(init=False, repr=False, compare=False)
    _tokens: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_str(self.alphabet, "alphabet")
        if not self.alphabet:
            raise ValueError("alphabet must contain at least one character, got ''")
        repeated = sorted({ch for ch in self.alphabet if self.alphabet.count(ch) > 1})
        if repeated:
            raise ValueError(f"alphabet must not repeat characters, but repeats {repeated!r}")
        offset = len(SPECIAL_TOKENS)
        object.__setattr__(self, "_char_to_id",
                           {ch: offset + i for i, ch in enumerate(self.alphabet)})
        object.__setattr__(self, "_tokens", SPECIAL_TOKENS + tuple(self.alphabet))

    # ---- vocabulary -----------------------------------------------------------------------

    def __len__(self) -> int:
        """Vocabulary size: the special tokens plus one id per alphabet character."""
        return len(self._tokens)

    @property
    def pad_id(self) -> int:
        """Id of ``<pad>`` (0)."""
        return 0

    @property
    def bos_id(self) -> int:
        """Id of ``<bos>``, the begin-of-sequence token (1)."""
        return 1

    @property
    def eos_id(self) -> int:
        """Id of ``<eos>``, the end-of-sequence token (2)."""
        return 2

    @property
    def unk_id(self) -> int:
        """Id of ``<unk>``, which stands for any character outside the alphabet (3)."""
        return 3

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every token in id order: the special tokens, then the alphabet's characters."""
        return self._tokens

    # ---- encoding -------------------------------------------------------------------------

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False,
               strict: bool = False) -> list[int]:
        """Turn ``text`` into a list of ids, one per character.

        Args:
            text: the text to encode.
            add_bos: put ``<bos>`` first.
            add_eos: put ``<eos>`` last.
            strict: raise on a character outside the alphabet instead of encoding it as
                ``<unk>``.

        Returns:
            ``len(text) + add_bos + add_eos`` ids.
        """
        _check_str(text, "text")
        if strict:
            unknown = sorted({ch for ch in text if ch not in self._char_to_id})
            if unknown:
                raise ValueError(f"text contains characters outside the alphabet: {unknown!r}")
        ids = [self._char_to_id.get(ch, self.unk_id) for ch in text]
        if add_bos:
            ids.insert(0, self.bos_id)
        if add_eos:
            ids.append(self.eos_id)
        return ids

    def decode(self, ids: Sequence[int] | torch.Tensor, *, skip_special: bool = True) -> str:
        """Turn ids back into text.

        Args:
            ids: a list or tuple of ints, or a 1-D integer tensor.
            skip_special: drop ``<pad>``, ``<bos>``, ``<eos>`` and ``<unk>``; if false, write
                them out by name (``"<eos>"``).

        Returns:
            The text; ``decode(encode(t)) == t`` for any ``t`` over the alphabet.
        """
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"ids must be a 1-D tensor, got shape {tuple(ids.shape)}")
            if ids.dtype == torch.bool or ids.dtype.is_floating_point or ids.dtype.is_complex:
                raise TypeError(f"ids must be an integer tensor, got dtype {ids.dtype}")
            values = ids.tolist()
        elif isinstance(ids, (list, tuple)):
            bad = [v for v in ids if isinstance(v, bool) or not isinstance(v, int)]
            if bad:
                raise TypeError(f"ids must hold ints, got {type(bad[0]).__name__} {bad[0]!r}")
            values = list(ids)
        else:
            raise TypeError(f"ids must be a list or tuple of ints or a 1-D integer tensor, "
                            f"got {type(ids).__name__}")
        vocab = len(self._tokens)
        out_of_range = [v for v in values if not 0 <= v < vocab]
        if out_of_range:
            raise ValueError(f"ids must be in [0, {vocab}), got {out_of_range[0]}")
        n_special = len(SPECIAL_TOKENS)
        if skip_special:
            return "".join(self._tokens[v] for v in values if v >= n_special)
        return "".join(self._tokens[v] for v in values)

    def batch_encode(self, texts: Sequence[str], *, max_len: int | None = None,
                     strict: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode several texts as ``<bos> text <eos>`` rows padded with ``<pad>`` into one tensor.

        Args:
            texts: a non-empty list or tuple of str.
            max_len: the number of columns, counting ``<bos>`` and ``<eos>``; every row is padded
                to it. ``None`` pads to the longest row instead.
            strict: as in :meth:`encode`.

        Returns:
            ``(ids, lengths)``: ``ids`` is an int64 tensor ``[N, T]`` and ``lengths`` an int64
            tensor ``[N]`` with each row's length including ``<bos>`` and ``<eos>`` (the columns
            after it hold :attr:`pad_id`).
        """
        if not isinstance(texts, (list, tuple)):
            raise TypeError(f"texts must be a list or tuple of str, got {type(texts).__name__}")
        if not texts:
            raise ValueError("texts must hold at least one text, got an empty sequence")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts must hold str, but texts[{i}] is {type(text).__name__}")
        if max_len is not None:
            check_int(max_len, "max_len", minimum=2)  # room for <bos> and <eos>
        rows = [self.encode(t, add_bos=True, add_eos=True, strict=strict) for t in texts]
        lengths = [len(row) for row in rows]
        if max_len is None:
            width = max(lengths)
        else:
            too_long = [i for i, n in enumerate(lengths) if n > max_len]
            if too_long:
                i = too_long[0]
                raise ValueError(f"texts[{i}] needs {lengths[i]} tokens with <bos> and <eos>, "
                                 f"more than max_len={max_len}")
            width = max_len
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)  # [N, T]
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        return ids, torch.tensor(lengths, dtype=torch.long)  # [N, T], [N]
