"""The README's first screen (everything above the answer) tells a newcomer what the project is, what the two
commands cost on a 2-core CPU, what `make test` installs, what the first run downloads or how to point it at a data
root, that offline results come from the stand-in teacher, and where the ideas come from."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
FIRST = README.split("\n## The answer", 1)[0]


def test_commands_with_their_time_and_what_they_install():
    assert "make demo" in FIRST and "make test" in FIRST
    assert "within 8 minutes" in FIRST and re.search(r"`make test` takes about \d+.\d+\s+minutes", FIRST)
    assert "chromium" in FIRST and "apt-get" in FIRST


def test_data_root_or_downloads_with_sizes():
    assert "GSOC_DATA_ROOT=" in FIRST
    for item in ("CIFAR-10", "ResNet", "Inception"):
        assert re.search(rf"{item}[^.;]*\(\D*\d[\d.–]* ?(MiB|MB)", FIRST), item


def test_says_the_offline_results_come_from_the_stand_in_teacher():
    assert "stand-in teacher" in FIRST and "data/offline_teacher.md" in FIRST


def test_links_to_the_sources():
    links = set(re.findall(r"\]\((https?://[^)]+)\)", FIRST))
    for needle in (
        "medium.com/openvino-toolkit",
        "ThanosM97/gsoc2022-openvino",
        "NVlabs/stylegan2-ada-pytorch",
        "2009.13829",
        "openvinotoolkit/nncf",
        "2001.00281",
        "2003.03603",
        "2111.02625",
        "openreview.net",
    ):
        assert any(needle in link for link in links), needle


def test_relative_links_and_images_point_to_files():
    """Every relative link or image of the README, the reference page, CONTRIBUTING and RESULTS names a file that
    exists (anchors and web addresses aside)."""
    root = Path(__file__).resolve().parents[1]
    for page in ("README.md", "docs/reference.md", "CONTRIBUTING.md", "benchmarks/RESULTS.md"):
        path = root / page
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
            if re.match(r"[a-z]+:|#", target):
                continue
            assert (path.parent / target.split("#")[0]).exists(), f"{page}: broken link {target}"
