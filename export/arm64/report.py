"""parity.md's arm64 table: per format and emulated CPU, the difference against PyTorch and
against the same runtime on x86, the labels, the kernels that ran and the time it took."""

from __future__ import annotations


def arm64_markdown(document: dict) -> str:
    rows = [(fmt, runtime, r) for fmt, entry in document["formats"].items()
            for runtime, r in entry["runtimes"].items() if r.get("emulation")]
    if not rows:
        return ""
    lines = ["", "## On arm64 (the phone's runtime builds, emulated by qemu)", "",
             "| format | runtime | CPU | vs PyTorch | vs x86 | labels vs x86 | kernels | time | "
             "result |", "|---|---|---|---|---|---|---|---|---|"]
    for fmt, runtime, r in rows:
        e = r["emulation"]
        labels = ("n/a" if e["label_agreement_vs_x86"] is None
                  else f"{e['label_agreement_vs_x86']:.2%}")
        verdict = "✓ pass" if r["passed"] else f"✗ FAIL {r['error'] or ''}"
        lines.append(f"| {fmt} | {runtime.split(' (')[0]} | {e['cpu']} ({e['architecture']}) | "
                     f"{r['max_abs_diff']:.2e} | {e['max_abs_diff_vs_x86']:.2e} | {labels} | "
                     f"{e['kernels']} | {e['seconds']:.1f} s | {verdict} |")
    return "\n".join(lines) + "\n"
