"""Run the exporters of the chosen formats; each says what it wrote, how big, how long."""

from __future__ import annotations

import logging
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from pocketml.folder.errors import UserError
from pocketml.folder.replace import disk_full
from pocketml.export.convert.failure_terms import converter_cause, user_terms
from pocketml.export.formats import FORMATS, Format
from pocketml.export.convert.job import ExportJob

LOG = logging.getLogger("pocketml.export")  # --debug shows a failed export's full text


@dataclass
class ExportResult:
    format: str
    path: Path
    bytes: int = 0
    seconds: float = 0.0
    error: str | None = None
    note: str = ""  # what the exporter decided, e.g. layers kept in float32
    dimensions: str | None = None  # what the file keeps dynamic, and why not more

    @property
    def ok(self) -> bool:
        return self.error is None


def check_formats(names) -> list[Format]:
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise UserError(f"unknown format {', '.join(unknown)}; choose from {', '.join(FORMATS)}.")
    # Quantized TFLite files are made from the float32 one, so it always comes first.
    return [FORMATS[n] for n in FORMATS if n in names]


def export_formats(job: ExportJob, out_dir: Path, names, log=print) -> list[ExportResult]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[ExportResult] = []
    formats = check_formats(names)
    if job.folded:
        log(f"  folded into plain weights before export (on a copy): {', '.join(job.folded)}")
    for fmt in formats:
        final = out_dir / fmt.filename
        source = next((r for r in results if r.format == fmt.made_from), None)
        if source is not None and not source.ok:  # nothing to convert from: say so, not "missing"
            final.unlink(missing_ok=True)
            results.append(ExportResult(fmt.name, final, error=(
                f"not made: it is converted from {source.path.name} ({source.format}), whose "
                "export failed above")))
            log(f"  {fmt.name:<17} FAILED {final.name}: {results[-1].error}")
            continue
        # Write under a temporary name with the real suffix (converters check it), then rename:
        # a failed export never leaves a half-written file under the real name.
        tmp = out_dir / f".tmp-{os.getpid()}-{fmt.filename}"
        started, notes = time.perf_counter(), len(job.notes)
        try:
            dimensions = fmt.export(job, tmp)
            tmp.replace(final)
            result = ExportResult(fmt.name, final, final.stat().st_size,
                                  time.perf_counter() - started, dimensions=dimensions)
        except UserError:
            raise
        except (Exception, SystemExit) as err:  # a converter's refusal (or the user's code
            # exiting while it is traced) is a result to report, not a crash; a full disk is not
            if disk_full(err):
                raise
            LOG.debug("%s export failed:\n%s", fmt.name, "".join(traceback.format_exception(err)))
            final.unlink(missing_ok=True)
            result = ExportResult(fmt.name, final, seconds=time.perf_counter() - started,
                                  error=unsupported_message(job, fmt, err))
        finally:
            tmp.unlink(missing_ok=True)
        result.note = "; ".join(job.notes[notes:])
        log(f"  {fmt.name:<17} {'ok' if result.ok else 'FAILED':<6} {result.path.name} "
            f"{result.bytes / 1024:.1f} KB in {result.seconds:.1f} s"
            + (f"; {result.dimensions}" if result.dimensions else "")
            + (f"\n    {result.error}" if result.error else "")
            + (f"\n    {result.note}" if result.note else ""))
        results.append(result)
    return results


def unsupported_message(job: ExportJob, fmt: Format, err: Exception) -> str:
    """The real cause in one line, in the user's terms where they are known (failure_terms),
    else the converter's own; the full text is logged for --debug."""
    return user_terms(job, fmt.description, fmt.takes_complex, err, converter_cause(err))


def results_table(results: list[ExportResult]) -> str:
    lines = [f"{'format':<17} {'file':<24} {'size':>9} {'time':>7}  status; dimensions kept",
             "-" * 90]
    for r in results:
        status = f"ok; {r.dimensions}" if r.ok and r.dimensions else "ok" if r.ok else \
            f"FAILED: {r.error}"
        lines.append(f"{r.format:<17} {r.path.name:<24} {r.bytes / 1024:>7.1f} KB "
                     f"{r.seconds:>5.1f} s  {status}")
    return "\n".join(lines)
