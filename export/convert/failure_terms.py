"""Why a format refused a model, told in the user's terms: the line of the user's own code
that the format cannot take, and the reason in plain words, on one line.

The converters name what they failed on in their own terms: litert-torch "cannot represent
aten.permute ... complex<f32>" (a permute the user never wrote, inserted around an STFT),
ExecuTorch "mismatched dtypes:" (cut at the colon), and every exporter "zeros(): argument
'size' failed to unpack ... FakeTensor" for a pack_padded_sequence, with no line at all. The
user's line comes from the exception's traceback (torch.export runs forward() itself, so the
frame in the user's file is there) or, for an operation the exported program holds, from the
node's recorded stack trace.
"""

from __future__ import annotations

import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch

from pocketml.export.console import quiet
from pocketml.export.convert.job import ExportJob

# Where torch.export met a shape it can only know from the values: a PackedSequence's batch
# sizes, a boolean mask's count, .item() used as a size.
DATA_DEPENDENT = ("FakeTensor", "data-dependent", "DataDependent", "unbacked")
COMPLEX = ("complex tensors are not supported by TFLite or ExecuTorch: export this model as "
           "ONNX, or compute with real tensors (e.g. the real and imaginary parts apart)")
SHAPES = ("its shapes depend on the data (a PackedSequence, or a size read from a tensor's "
          "values), which cannot be exported: pass padded tensors and a mask")
NOT_USER = ("site-packages", "dist-packages")
SENTENCE_LIMIT = 300


@dataclass(frozen=True)
class Place:
    """A line of the user's code."""
    file: str
    line: int
    function: str
    code: str

    def describe(self) -> str:
        code = f" `{self.code.strip()}`" if self.code.strip() else ""
        return f"{shown_path(self.file)}:{self.line}{code} in {self.function}()"


def user_terms(job: ExportJob, description: str, takes_complex: bool, err: BaseException,
               fallback: str) -> str:
    """One line: what `description` cannot take, where in the user's code, and why.
    `fallback` is the converter's own cause, used where no plainer reason is known."""
    chain = exception_chain(err)
    place = deepest_user_frame(chain)
    if any(marker in str(e) for e in chain for marker in DATA_DEPENDENT):
        return f"{description} cannot take {where(place)}: {SHAPES}."
    if not takes_complex:
        complex_place = first_complex_operation(job)
        if complex_place is not None:
            return f"{description} cannot take {where(complex_place)}: {COMPLEX}."
    return f"{description} cannot represent {fallback}" + (
        f" (at {place.describe()})" if place else "")


def where(place: Place | None) -> str:
    return place.describe() if place else "the model"


def exception_chain(err: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    while err is not None and err not in chain:
        chain.append(err)
        err = err.__cause__ or err.__context__
    return chain


def is_user_file(filename: str) -> bool:
    """Not a library's (installed, the standard library, pocketml's own) nor generated code."""
    if filename.startswith("<") or any(part in NOT_USER for part in Path(filename).parts):
        return False
    path = Path(filename).resolve()
    return not any(path.is_relative_to(root) for root in library_roots())


def library_roots() -> set[Path]:
    """The standard library and the folders of pocketml's own modules as loaded (the
    package-dir remap spreads them over pocketml/, train/, export/ and mobile_app/)."""
    return {Path(sys.base_prefix).resolve(),
            *(Path(module.__file__).resolve().parent for name, module in list(sys.modules.items())
              if name.split(".")[0] == "pocketml" and getattr(module, "__file__", None))}


def deepest_user_frame(chain: list[BaseException]) -> Place | None:
    """The innermost frame in the user's files, over the whole chain (a converter wraps the
    error that torch.export raised inside forward())."""
    for err in chain:
        frames = [f for f in traceback.extract_tb(err.__traceback__) if is_user_file(f.filename)]
        if frames:
            f = frames[-1]
            return Place(f.filename, f.lineno, f.name, f.line or "")
    return None


def first_complex_operation(job: ExportJob) -> Place | None:
    """The user's line of the first operation that makes a complex tensor, as torch.export
    records it; None where the model exports without one (or does not export at all)."""
    try:
        with quiet():
            program = torch.export.export(job.module, job.batched(2))
    except Exception:
        return None
    for node in program.graph.nodes:
        value = node.meta.get("val")
        if isinstance(value, torch.Tensor) and value.is_complex():
            return stack_place(node.meta.get("stack_trace") or "")
    return None


def stack_place(stack: str) -> Place | None:
    """The last frame in the user's files of a node's recorded stack trace (traceback's
    format: `File "PATH", line N, in FUNCTION` then the code)."""
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)\n?\s*(.*)', stack)
    users = [f for f in frames if is_user_file(f[0])]
    if not users:
        return None
    file, line, function, code = users[-1]
    return Place(file, int(line), function, code)


def shown_path(filename: str) -> str:
    """Relative to the current folder where it is under it (where --model imports from)."""
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return filename


def whole_sentences(text: str, limit: int = SENTENCE_LIMIT) -> str:
    """The first paragraph of a converter's message as one line, ended at a sentence's end:
    never cut mid-sentence ("This may occur when") nor at a colon that opens a list."""
    paragraph = " ".join(re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0].split())
    if len(paragraph) > limit:
        ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", paragraph) if m.end() <= limit]
        paragraph = paragraph[:ends[-1]] if ends else paragraph
    return paragraph.rstrip(":").rstrip()


def converter_cause(err: BaseException) -> str:
    """The converter's own first error and the operation it failed on, e.g. "operation
    torch.ops.aten.histc.default: NotImplementedError: ...". torch.onnx opens with advice
    ("Next steps: ...") and gives the cause in its "Exception summary"."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip() or type(err).__name__
    cause = f"{type(err).__name__}: {whole_sentences(text)}"
    summary = text.partition("## Exception summary")[2]
    if summary:
        text = summary
        # From the first "<class ...>: message" line on: its message may go on over more lines.
        first = re.search(r"^<class .*", summary, re.MULTILINE | re.DOTALL)
        if first:
            cause = re.sub(r"^<class '(?:[\w]+\.)*(\w+)'>", r"\1", whole_sentences(first[0]))
    op = re.search(r"(aten::?[\w.]+|torch\._?ops\.[\w.]+|'[\w.]+' op|Op type '?\w+'?)", text)
    return f"{f'operation {op.group(1)}' if op else 'the model'}: {cause}"
