"""Bad input through the real CLI: every case gives one ``error: ...`` line naming
the file and a non-zero exit (or works), never a traceback, and never replaces an
existing file.

Most cases call the Typer app in-process (MediaPipe starts once per test
session); three run ``python -m reenact_cli.cli`` as a subprocess to check, end
to end, that no C++ log line (TFLite / absl) or traceback reaches the user.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from reenact_cli.cli import app
from reenact_cli.media.image_io import read_image

NO_FACE = 3
BAD_INPUT = 2
BAD_OUTPUT = 4


@dataclass(frozen=True)
class Run:
    """What one CLI invocation did."""

    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        """Non-empty stderr lines."""
        return [line for line in self.stderr.splitlines() if line.strip()]


def cli(*args: object) -> Run:
    """Run ``reenact ARGS`` in-process (in the current directory)."""
    result = CliRunner().invoke(app, [str(a) for a in args], env={"REENACT_DEBUG": None}, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}\n{result.stderr}")
    return Run(result.exit_code, result.stdout, result.stderr)


def cli_subprocess(*args: object, cwd: Path) -> Run:
    """Run ``python -m reenact_cli.cli ARGS`` as the user would (stderr unfiltered)."""
    env = {k: v for k, v in os.environ.items() if k not in ("REENACT_DEBUG", "REENACT_NATIVE_LOGS")}
    proc = subprocess.run(
        [sys.executable, "-m", "reenact_cli.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(run: Run, code: int, *fragments: str) -> str:
    """Exit ``code``; stderr is exactly one ``error:`` line containing every fragment."""
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    assert run.code == code, f"exit {run.code}, expected {code}; stderr:\n{run.stderr}"
    assert len(run.lines) == 1, f"expected one line on stderr, got:\n{run.stderr}"
    line = run.lines[0]
    assert line.startswith("error: "), line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def assert_wrote(run: Run, out: Path) -> np.ndarray:
    """Exit 0, a ``wrote OUT`` line (``out`` as given on the command line), no
    traceback; returns the output image."""
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    assert run.code == 0, f"exit {run.code}; stderr:\n{run.stderr}"
    assert f"wrote {out}" in run.stderr
    assert out.is_file()
    return read_image(out)


def files_in(folder: Path) -> dict[str, bytes | None]:
    """Everything under ``folder``: file bytes, None for a folder (to prove nothing changed)."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def write_png(path: Path, array: np.ndarray) -> Path:
    """Write an RGB(A)/gray array of any depth as PNG (OpenCV wants BGR order)."""
    if array.ndim == 3 and array.shape[2] in (3, 4):
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR if array.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(array))
    return path


@pytest.fixture(scope="module")
def driver(tmp_path_factory, hopper) -> Path:
    """The portrait, mirrored: a driver photo with a real face."""
    return write_png(tmp_path_factory.mktemp("driver") / "driver.png", np.ascontiguousarray(hopper[:, ::-1]))


@pytest.fixture()
def here(tmp_path, monkeypatch) -> Path:
    """A fresh working directory (default output names land here)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --------------------------------------------------------------------------- input files


def test_missing_file(here, driver):
    before = files_in(here)
    line = assert_one_line_error(cli("drive", "missing.jpg", driver, "-o", "new/out.png"), BAD_INPUT, "missing.jpg", "no such file")
    assert files_in(here) == before, line  # not even the output folder was created
    assert_one_line_error(cli("drive", driver, "nope/missing driver.png"), BAD_INPUT, "nope/missing driver.png")


def test_not_an_image(here, driver):
    (here / "x.jpg").write_text("this is not a JPEG\n")
    assert_one_line_error(cli("drive", "x.jpg", driver), BAD_INPUT, "x.jpg", "not an image")
    (here / "empty.png").write_bytes(b"")
    assert_one_line_error(cli("drive", driver, "empty.png"), BAD_INPUT, "empty.png", "empty")


def test_truncated_jpeg(here, hopper_path, driver):
    data = hopper_path.read_bytes()
    (here / "cut.jpg").write_bytes(data[: len(data) // 2])
    assert_one_line_error(cli("drive", "cut.jpg", driver), BAD_INPUT, "cut.jpg", "truncated")
    # A baseline JPEG from OpenCV, cut just before its end-of-image marker.
    ok, buf = cv2.imencode(".jpg", cv2.imread(str(hopper_path)))
    (here / "cut2.jpg").write_bytes(buf.tobytes()[:-2])
    assert_one_line_error(cli("drive", "cut2.jpg", driver), BAD_INPUT, "cut2.jpg", "truncated")
    ok, buf = cv2.imencode(".png", cv2.imread(str(hopper_path)))
    (here / "cut.png").write_bytes(buf.tobytes()[: len(buf) // 2])
    assert_one_line_error(cli("drive", driver, "cut.png"), BAD_INPUT, "cut.png", "truncated")


def corrupt_jpeg(path: Path, hopper_path: Path) -> Path:
    """A complete JPEG whose scan data is damaged mid-way (libjpeg warns and
    decodes garbage below the damage)."""
    ok, buf = cv2.imencode(".jpg", cv2.imread(str(hopper_path)))
    data = bytearray(buf.tobytes())
    data[len(data) // 2 : len(data) // 2 + 40] = b"\xff\xd0" * 20
    path.write_bytes(bytes(data))
    return path


def test_corrupt_jpeg(here, hopper_path, driver):
    corrupt_jpeg(here / "damaged.jpg", hopper_path)
    assert_one_line_error(cli("drive", "damaged.jpg", driver), BAD_INPUT, "damaged.jpg", "corrupt")


def test_directory_instead_of_file(here, driver):
    (here / "photos").mkdir()
    # A folder of sources is allowed; an empty one is a one-line error.
    assert_one_line_error(cli("drive", "photos", driver), BAD_INPUT, "photos", "no image files")
    assert_one_line_error(cli("drive", driver, driver, "-o", "photos"), BAD_OUTPUT, "photos", "directory")
    assert_one_line_error(cli("drive", driver, driver, "--face-model", "photos"), BAD_INPUT, "photos", "directory")


def test_photo_without_a_face(here, driver):
    rng = np.random.default_rng(0)
    blank = write_png(here / "wall.png", np.full((480, 640, 3), 200, np.uint8))
    noise = write_png(here / "noise.png", rng.integers(0, 256, (300, 300, 3), dtype=np.uint8))
    assert_one_line_error(cli("drive", blank.name, driver), NO_FACE, "wall.png", "no face")
    assert_one_line_error(cli("drive", driver, noise.name), NO_FACE, "noise.png", "no face")
    assert sorted(p.name for p in here.iterdir()) == ["noise.png", "wall.png"]  # nothing written


@pytest.mark.parametrize("kind", ["gray", "gray16", "rgba", "rgb16", "rgba16"])
def test_unusual_pixel_formats_work(here, hopper, driver, kind):
    """Grayscale, 16-bit and RGBA sources are normalised and reenacted."""
    gray = cv2.cvtColor(hopper, cv2.COLOR_RGB2GRAY)
    alpha = np.full(hopper.shape[:2] + (1,), 255, np.uint8)
    alpha[:40] = 0  # a transparent strip: composited over white
    arrays = {
        "gray": gray,
        "gray16": gray.astype(np.uint16) * 257,
        "rgba": np.concatenate([hopper, alpha], axis=2),
        "rgb16": hopper.astype(np.uint16) * 257,
        "rgba16": np.concatenate([hopper, alpha], axis=2).astype(np.uint16) * 257,
    }
    src = write_png(here / f"{kind}.png", arrays[kind])
    decoded = read_image(src)
    assert decoded.shape == hopper.shape and decoded.dtype == np.uint8
    image = assert_wrote(cli("drive", src.name, driver, "-o", "out.png"), Path("out.png"))
    assert image.shape == hopper.shape


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A valid little PNG whose header claims ``width x height`` (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def test_image_size_limits(here, hopper, driver):
    """A 32 px photo works or gives a clean 'no face'; under 16 px, or a header
    claiming gigapixels, is refused before decoding."""
    tiny = write_png(here / "tiny.png", cv2.resize(hopper, (27, 32), interpolation=cv2.INTER_AREA))
    run = cli("drive", tiny.name, driver, "-o", "out.png")
    if run.code == 0:
        assert_wrote(run, Path("out.png"))
    else:
        assert_one_line_error(run, NO_FACE, "tiny.png", "no face")
    speck = write_png(here / "speck.png", cv2.resize(hopper, (12, 14), interpolation=cv2.INTER_AREA))
    assert_one_line_error(cli("drive", speck.name, driver), BAD_INPUT, "speck.png", "too small")
    for w, h in ((30000, 30000), (12000, 11000)):  # over Pillow's bomb limit; over ours only
        bomb = png_header_only(here / f"bomb{w}.png", w, h)
        assert_one_line_error(cli("drive", bomb.name, driver), BAD_INPUT, bomb.name, "larger than this tool accepts")
    assert_one_line_error(cli("drive", "/dev/null", driver), BAD_INPUT, "/dev/null", "is a device")


def test_exif_orientation_is_applied(tmp_path, hopper):
    """A phone photo stored sideways with an EXIF rotation is read upright
    (all eight orientations, as Pillow's exif_transpose reads them)."""
    from PIL import Image, ImageOps

    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"phone{orientation}.jpg"
        Image.fromarray(hopper).save(path, exif=exif, quality=95)
        with Image.open(path) as im:
            expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        ours = read_image(path)
        assert ours.shape == expected.shape, orientation
        assert np.abs(ours.astype(int) - expected.astype(int)).mean() < 2, orientation
    upright = read_image(tmp_path / "phone6.jpg")  # "rotate 90 clockwise to view"
    assert upright.shape == (hopper.shape[1], hopper.shape[0], 3)


def test_path_with_spaces_and_brackets(here, hopper_path, driver):
    folder = here / "my photos [2024]"
    folder.mkdir()
    src = folder / "grace hopper (1).jpg"
    src.write_bytes(hopper_path.read_bytes())
    out = here / "out dir" / "result [red] 1.png"
    assert_wrote(cli("drive", src, driver, "-o", out), out)
    assert_one_line_error(cli("drive", folder / "no such [bold]file.jpg", driver), BAD_INPUT, "no such [bold]file.jpg")


# --------------------------------------------------------------------------- outputs


def test_unwritable_output_location(here, driver):
    (here / "afile").write_text("a file, not a folder")
    before = files_in(here)
    assert_one_line_error(cli("drive", driver, driver, "-o", "afile/out.png"), BAD_OUTPUT, "afile/out.png", "not a folder")
    assert_one_line_error(cli("drive", driver, driver, "-o", "afile/sub/out.png"), BAD_OUTPUT, "afile/sub/out.png")
    assert_one_line_error(cli("drive", driver, driver, "--save-stages", "afile"), BAD_OUTPUT, "afile")
    assert files_in(here) == before
    if Path("/proc/self").is_dir():  # tests run as root: only a pseudo file system refuses root
        assert_one_line_error(cli("drive", driver, driver, "-o", "/proc/out.png"), BAD_OUTPUT, "/proc/out.png")
    assert_one_line_error(cli("drive", driver, driver, "-o", "out.gif"), BAD_OUTPUT, "out.gif", "unsupported")


def test_existing_output_needs_overwrite(here, driver):
    out = here / "out.png"
    out.write_bytes(b"precious")
    out.chmod(0o640)
    assert_one_line_error(cli("drive", driver, driver, "-o", out.name), BAD_OUTPUT, "out.png", "--overwrite")
    assert out.read_bytes() == b"precious"
    assert_wrote(cli("drive", driver, driver, "-o", out.name, "--overwrite"), Path(out.name))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_mode & 0o777 == 0o640  # the replaced file's permissions are kept
    assert not list(here.glob(".*part*")), "temporary file left behind"


def test_default_output_name_never_clobbers(here, driver):
    first = Path("driver_by_driver.png")
    assert_wrote(cli("drive", driver, driver), first)
    first_bytes = first.read_bytes()
    assert_wrote(cli("drive", driver, driver), Path("driver_by_driver-1.png"))
    assert first.read_bytes() == first_bytes
    umask = os.umask(0o022)
    os.umask(umask)
    mode = Path("driver_by_driver-1.png").stat().st_mode & 0o777
    assert mode == 0o666 & ~umask, f"mode {oct(mode)}: the temporary file's 0o600 leaked through"


# --------------------------------------------------------------------------- options


def test_cuda_without_cuda(here, driver):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert_one_line_error(cli("drive", driver, driver, "--device", "cuda"), BAD_INPUT, "--device cuda", "no CUDA")
    assert_one_line_error(cli("drive", driver, driver, "--device", "tpu"), BAD_INPUT, "tpu")


def test_bad_face_model(here, driver):
    assert_one_line_error(cli("drive", driver, driver, "--face-model", "nope.npz"), BAD_INPUT, "nope.npz")
    (here / "notes.npz").write_text("not a model")
    assert_one_line_error(cli("drive", driver, driver, "--face-model", "notes.npz"), BAD_INPUT, "notes.npz", "not a face model")
    np.savez(here / "other.npz", weights=np.zeros(3))
    assert_one_line_error(cli("drive", driver, driver, "--face-model", "other.npz"), BAD_INPUT, "other.npz", "not a face model")
    assert_one_line_error(cli("face-model", "info", "notes.npz"), BAD_INPUT, "notes.npz")


# --------------------------------------------------------------------------- end to end, real process


def test_subprocess_no_face_is_one_clean_line(tmp_path, hopper):
    """MediaPipe's graphs start (and log in C++) before the face search fails."""
    blank = write_png(tmp_path / "blank page.png", np.full((400, 300, 3), 255, np.uint8))
    portrait = write_png(tmp_path / "portrait.png", hopper)
    run = cli_subprocess("drive", blank.name, portrait.name, cwd=tmp_path)
    assert_one_line_error(run, NO_FACE, "blank page.png", "no face")


def test_subprocess_corrupt_jpeg(tmp_path, hopper_path):
    """libjpeg prints its own warning to stderr; the user sees only our line."""
    corrupt_jpeg(tmp_path / "damaged.jpg", hopper_path)
    run = cli_subprocess("drive", hopper_path, "damaged.jpg", cwd=tmp_path)
    assert_one_line_error(run, BAD_INPUT, "damaged.jpg", "corrupt image data")


def test_subprocess_8000px_photo(tmp_path, hopper):
    """A 48-megapixel close-up (8000 x 6000) works in bounded time and memory,
    with nothing on stderr but a note and the 'wrote' line."""
    h, w = 6000, 8000
    face = cv2.resize(hopper, (round(hopper.shape[1] * h / hopper.shape[0]), h), interpolation=cv2.INTER_LINEAR)
    big = np.full((h, w, 3), 235, np.uint8)
    x0 = (w - face.shape[1]) // 2
    big[:, x0 : x0 + face.shape[1]] = face
    src = tmp_path / "huge.jpg"
    assert cv2.imwrite(str(src), cv2.cvtColor(big, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    del big, face
    portrait = write_png(tmp_path / "portrait.png", hopper)
    t0 = time.perf_counter()
    run = cli_subprocess("drive", src.name, portrait.name, "-o", "out.jpg", cwd=tmp_path)
    seconds = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB on Linux
    assert run.code == 0 and "Traceback" not in run.stderr, run.stderr
    assert [line for line in run.lines if not line.startswith("note: ")] == ["wrote out.jpg"], run.stderr
    out = read_image(tmp_path / "out.jpg")
    assert out.shape[1] / out.shape[0] == pytest.approx(w / h, rel=0.01)
    assert seconds < 45, f"took {seconds:.1f} s"
    assert peak_gb < 3.0, f"peak memory {peak_gb:.2f} GB"


def test_native_log_filter_keeps_real_errors(capfd):
    """The fd-level filter drops MediaPipe/TFLite chatter but passes anything else on."""
    from reenact_cli.face.regress import quiet_native_stderr

    with quiet_native_stderr():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"W0000 00:00:1795633531.994786   12020 inference_feedback_manager.cc:114] Feedback manager ...\n")
        with quiet_native_stderr():  # nested blocks share one redirection
            os.write(2, b"I0000 00:00:1795633531.994786   12020 gl_context.cc:369] GL version: 3.2\n")
        os.write(2, b"E0000 00:00:1795633531.994786   12020 calculator_graph.cc:887] a real error\n")
    assert capfd.readouterr().err == "E0000 00:00:1795633531.994786   12020 calculator_graph.cc:887] a real error\n"
