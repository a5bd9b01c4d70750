"""Every one of the first 400 tunes of O'Neill's Music of Ireland (1850) must be accepted.

Runs `Personalizer(MusicVAE.default()).add_midi(path)` on each tune and prints, per metre, how
many were accepted, their windows and skipped windows; exits 1 when any tune is refused. The
tunes are written from music21's corpus first when the folder does not hold them
(see `oneill.py`).

    python benchmarks/check_oneill_acceptance.py [--folder DIR] [--count 400]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import oneill



def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(oneill.DEFAULT_FOLDER))
    parser.add_argument("--count", type=int, default=oneill.DEFAULT_COUNT)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    from midime_widgets._quiet import hide_native_stderr

    hide_native_stderr()  # TensorFlow's C++ start-up lines
    from midime_widgets import MusicVAE
    from midime_widgets.errors import MidiError
    from midime_widgets.personalize import Personalizer

    index = oneill.ensure_collection(args.folder, args.count)
    vae = MusicVAE.default()
    tunes, accepted, windows, skipped = (collections.Counter() for _ in range(4))
    refused = []
    for entry in index:
        metre = entry["metre"]
        tunes[metre] += 1
        person = Personalizer(vae)
        try:
            song = person.add_midi(entry["file"])
        except MidiError as exc:
            refused.append(f"{Path(entry['file']).name}: {exc}")
            continue
        accepted[metre] += 1
        windows[metre] += len(song.windows)
        skipped[metre] += len(song.skipped)
    print(f"{'metre':>6} {'tunes':>6} {'accepted':>9} {'windows':>8} {'skipped':>8}")
    for metre in sorted(tunes, key=lambda m: -tunes[m]):
        print(f"{metre:>6} {tunes[metre]:>6} {accepted[metre]:>9} {windows[metre]:>8} {skipped[metre]:>8}")
    print(f"{'all':>6} {sum(tunes.values()):>6} {sum(accepted.values()):>9} "
          f"{sum(windows.values()):>8} {sum(skipped.values()):>8}")
    for line in refused:
        print("refused:", line)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
