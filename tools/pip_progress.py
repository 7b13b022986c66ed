"""`python tools/pip_progress.py -r requirements/dev.txt`: pip install, saying how far it has got.

`make`'s first run installs about 150 pinned packages; pip --quiet says nothing for a minute or
two, and pip's own output is hundreds of lines. This prints one line per tenth of the packages
collected, then one while they are installed, and pip's own output only if it fails."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def pinned(requirements: Path) -> int:
    """How many packages `requirements` pins, following `-r other.txt`."""
    count = 0
    for line in requirements.read_text().splitlines():
        line = line.strip()
        if line.startswith("-r "):
            count += pinned(requirements.parent / line[3:].strip())
        elif line and not line.startswith("#"):
            count += 1
    return count


def main(argv: list[str]) -> int:
    requirements = Path(argv[argv.index("-r") + 1])
    total = pinned(requirements)
    started, collected, step = time.monotonic(), 0, max(1, total // 10)
    command = [sys.executable, "-m", "pip", "install", "--progress-bar", "off",
               "--disable-pip-version-check", *argv]
    output: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as pip:
        assert pip.stdout is not None
        for line in pip.stdout:
            output.append(line)
            if line.startswith(("Collecting ", "Processing ")):  # from an index, or a file
                collected += 1
                if collected % step == 0 or collected == total:
                    print(f"        {collected}/{total} packages found "
                          f"({time.monotonic() - started:.0f} s)", flush=True)
            elif line.startswith("Installing collected packages"):
                print(f"        installing them ({time.monotonic() - started:.0f} s) ...",
                      flush=True)
    if pip.returncode:
        sys.stdout.write("".join(output))
        print(f"pip failed (exit status {pip.returncode}); its output is above", file=sys.stderr)
    return pip.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
