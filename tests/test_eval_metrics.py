"""The five eval metrics on real photos and clips: identical inputs, an
independent SSIM, a known head rotation and a known expression change."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from reenact_cli.eval.action_units import AU_CODES, au_directions, measurement_matrix
from reenact_cli.eval.metrics import angle_errors, aucon, csim, prmse, psnr, ssim
from reenact_cli.media.image_io import read_image


@pytest.fixture(scope="module")
def measurer():
    from reenact_cli.eval.measure import Measurer
    from reenact_cli.face.model import load_face_model

    return Measurer(load_face_model())


@pytest.fixture(scope="module")
def regressor():
    from reenact_cli.face.regress import MeshRegressor

    return MeshRegressor(static=True)


def crop_of(regressor, image: np.ndarray) -> np.ndarray:
    return regressor.face_crop(image, 256).image


def clip_frames(path, wanted: set[int]) -> dict[int, np.ndarray]:
    from reenact_cli.eval.protocols import load_frames

    return load_frames(path, wanted)


def test_identical_images_score_perfectly(faces_dir, measurer, regressor):
    img = crop_of(regressor, read_image(faces_dir / "images" / "deep3dfacerecon_000031.jpg"))
    m1, m2 = measurer.measure(img), measurer.measure(img.copy())
    assert psnr(img, img) == float("inf")
    assert abs(ssim(img, img) - 1.0) < 1e-12
    assert abs(csim(m1.embedding, m2.embedding) - 1.0) < 1e-9
    assert prmse(m1.angles, m2.angles) == 0.0
    assert aucon(m1.au_present, m2.au_present) == 1.0


def test_csim_separates_people(faces_dir, measurer, regressor):
    """Two frames of one person are closer than photos of different people."""
    frames = clip_frames(faces_dir / "videos" / "liveportrait_d3.mp4", {0, 150})
    same = csim(*(measurer.measure(crop_of(regressor, f)).embedding for f in frames.values()))
    photos = ["deep3dfacerecon_000007.jpg", "deep3dfacerecon_000031.jpg", "facerecognition_obama.jpg", "sadtalker_people_0.png"]
    emb = [measurer.measure(crop_of(regressor, read_image(faces_dir / "images" / p))).embedding for p in photos]
    others = [csim(emb[i], emb[j]) for i in range(len(emb)) for j in range(i + 1, len(emb))]
    assert same > 0.93
    assert max(others) < same


@pytest.mark.parametrize("name", ["liveportrait_d38.jpg", "gfpgan_Adele_crop.png"])
def test_ssim_matches_scikit_image(faces_dir, regressor, name):
    from skimage.metrics import structural_similarity

    x = crop_of(regressor, read_image(faces_dir / "images" / name))
    blurred = cv2.GaussianBlur(x, (7, 7), 2.0)
    ok, jpg = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, 20])
    jpeg = cv2.imdecode(jpg, cv2.IMREAD_UNCHANGED)
    shifted = np.roll(x, 3, axis=1)
    for y in (blurred, jpeg, shifted):
        ref = structural_similarity(
            x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=2
        )
        assert abs(ssim(x, y) - ref) < 1e-3, (ssim(x, y), ref)
        assert ref < 0.99  # the distortions are real


def test_prmse_definition():
    a = np.array([10.0, -5.0, 179.0])
    b = np.array([7.0, -1.0, -179.0])  # errors 3, -4 and (wrapped) -2 degrees
    assert np.allclose(angle_errors(a, b), [3.0, -4.0, -2.0])
    assert prmse(a, b) == pytest.approx(np.sqrt((9 + 16 + 4) / 3))
    many = np.stack([a, a])
    assert prmse(many, np.stack([b, a])) == pytest.approx(np.sqrt((9 + 16 + 4) / 6))


def test_prmse_of_a_known_rotation(faces_dir, measurer, regressor):
    """Turning a photo 12 degrees in the image plane is a 12 degree roll and
    nothing else, so PRMSE = 12 / sqrt(3)."""
    img = read_image(faces_dir / "images" / "sadtalker_people_0.png")
    h, w = img.shape[:2]
    angle = 12.0
    rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0), (w, h), borderMode=cv2.BORDER_REFLECT)
    m0, m1 = measurer.measure(crop_of(regressor, img)), measurer.measure(crop_of(regressor, rot))
    err = angle_errors(m1.angles, m0.angles)
    assert abs(abs(err[2]) - angle) < 1.5, err
    assert np.all(np.abs(err[:2]) < 2.0), err
    assert prmse(m1.angles, m0.angles) == pytest.approx(angle / np.sqrt(3), abs=1.0)


def test_aucon_definition():
    a = np.array([1, 0, 1, 0], bool)
    assert aucon(a, a) == 1.0
    assert aucon(a, ~a) == 0.0
    assert aucon(a, np.array([1, 1, 1, 0], bool)) == 0.75
    with pytest.raises(ValueError):
        aucon(a, a[:3])


def test_action_units_follow_a_known_expression_change(faces_dir, measurer, regressor):
    """liveportrait_d18: the man's mouth is closed at frame 0 and wide open at
    frame 130, brows and eyes unchanged. The mouth AUs must switch on, the
    brow and eye AUs must not change, and AUCON must count the difference."""
    frames = clip_frames(faces_dir / "videos" / "liveportrait_d18.mp4", {0, 130})
    closed, opened = (measurer.measure(crop_of(regressor, frames[i])) for i in (0, 130))
    idx = {c: i for i, c in enumerate(AU_CODES)}
    for au in ("AU25", "AU26"):
        assert not closed.au_present[idx[au]] and opened.au_present[idx[au]], au
    for au in ("AU1", "AU2", "AU4", "AU5", "AU43"):
        assert closed.au_present[idx[au]] == opened.au_present[idx[au]], au
    agree = aucon(closed.au_present, opened.au_present)
    assert agree == pytest.approx(1.0 - np.sum(closed.au_present != opened.au_present) / len(AU_CODES))
    assert agree <= 1.0 - 2 / len(AU_CODES)
    assert opened.au_intensity[idx["AU25"]] > closed.au_intensity[idx["AU25"]] + 3.0


def test_action_unit_measurements_are_unit_spread(measurer):
    """Each AU direction has unit standard deviation under the expression prior,
    and each measurement is a difference (zero on a translated face)."""
    model = measurer.model
    d = au_directions(model)
    spread = np.sqrt((d * d) @ model.sigma_exp.astype(np.float64) ** 2)
    assert np.allclose(spread, 1.0)
    shift = np.tile([3.0, -2.0, 1.0], model.mean.shape[0])
    assert np.allclose(measurement_matrix() @ shift, 0.0)
