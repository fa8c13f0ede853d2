"""Cost of a notice letter: PDF rendering time per letter, and what it means for a batch of 10,000.

Run: .venv/bin/python bench/letters.py [LETTERS]   (default 200; the four variants in turn)
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import date

from notices import letters, rendering, texts
from notices.plan import VARIANTS

SENDER = rendering.Sender(
    name="EHPAD Les Tilleuls", finess="720000001", address_lines=("12 rue des Tilleuls",), postal_code="72000",
    city="Le Mans", phone="02 43 00 00 00", email="accueil@tilleuls.example.fr",
)  # fmt: skip
BATCH = 10_000
TARGET_SECONDS = 600


def content(number: int) -> rendering.NoticeContent:
    variant = VARIANTS[number % len(VARIANTS)]
    return rendering.NoticeContent(
        sender=SENDER,
        recipient=rendering.Recipient(
            f"Madame Louise MARTIN-{number}", (f"{number} rue des Lilas",), "72000", "Le Mans"
        ),
        variant=variant,
        usager_name=f"Louise MARTIN-{number}",
        body=texts.default_body(variant),
        link=f"https://portail.example.fr/o/K7QF-3MZD-9TXA-{number:04d}",
        reference=f"N-2025-{number:06d}",
        issued_on=date(2025, 3, 14),
    )


def main(count: int) -> None:
    letters.render_letter(content(0))  # fonts and stylesheet warm, as in a long-running worker
    # Wall time is what a batch waits; CPU time is what the letter costs when the machine is shared.
    wall, cpu, sizes = {variant: [] for variant in VARIANTS}, [], []
    for number in range(count):
        item = content(number)
        start, start_cpu = time.perf_counter(), time.process_time()
        pdf = letters.render_letter(item)
        wall[item.variant].append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        sizes.append(len(pdf))
    every = [d for values in wall.values() for d in values]
    for variant, values in wall.items():
        print(f"{variant:<16} median {statistics.median(values) * 1000:6.0f} ms  ({len(values)} letters)")
    p95 = statistics.quantiles(every, n=20)[-1]
    print(f"{'all variants':<16} median {statistics.median(every) * 1000:6.0f} ms   p95 {p95 * 1000:6.0f} ms   "
          f"median CPU {statistics.median(cpu) * 1000:.0f} ms   mean PDF {statistics.mean(sizes) / 1024:.0f} KiB   "
          f"{count} letters")  # fmt: skip
    for label, per_letter in (("wall", statistics.mean(every)), ("CPU", statistics.mean(cpu))):
        total = per_letter * BATCH
        print(f"{BATCH} letters at this {label} time: {total / 60:.1f} min in one process, "
              f"{total / 120:.1f} min in two (target {TARGET_SECONDS // 60} min)")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
