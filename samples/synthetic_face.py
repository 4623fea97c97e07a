"""Known facial movements rendered from one real photograph (tests and the bundled sample).

A still photograph cannot blink, raise its brows or turn its head, so checking that the
vision pipeline measures what was done needs footage in which what was done is known. These
functions edit a frontal face photograph (here `skimage.data.astronaut()`) geometrically,
starting from the 68 landmarks dlib finds in it. Each takes the picture to edit (default:
the photograph) so edits compose; the landmarks stay those of the photograph, which is
right because no edit but `turn_head` moves the eye corners or the lids' outline.

- `close_eyes`: the eye openings filled with the surrounding skin and a lash line drawn
  where the lids meet (dlib then reads an eye aspect ratio of ~0.07 instead of ~0.34).
- `shift_brows`: the brows (and the skin above them) moved up or down by a smooth
  displacement that fades to nothing at the upper lids, so the eyes stay where they are.
- `shift_irises`: the irises and pupils moved sideways inside the unchanged eye openings.
- `turn_head`: the face lifted onto a simple 3D surface (a vertical cylinder as wide as the
  jaw, with the six points of the generic head model in services/vision/features.py at
  that model's depths and the eyes' outline as far in front of the corners as
  services/vision/gaze.py assumes the pupil is), rotated by a known yaw and pitch about
  the head's centre, and re-drawn triangle by triangle; the background stays put.

These are pictures made for checking, not realistic animation: what they guarantee is the
direction and the size of each movement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.interpolate import RBFInterpolator
from scipy.spatial import Delaunay

from services.vision.face import FaceTracker
from services.vision.features import HEAD_MODEL_LANDMARKS, HEAD_MODEL_MM
from services.vision.gaze import EYE_WIDTH_MM, PUPIL_AHEAD_MM

EYES = ((36, 42), (42, 48))  # landmark index ranges of the image-left and image-right eye
BROWS = ((17, 22), (22, 27))
LASH_BGR = (40, 40, 60)


@dataclass(frozen=True)
class HeadMesh:
    """Points (pixels) that carry the picture when the head turns, and their depths."""

    points: np.ndarray  # N x 2: landmarks, forehead, then fixed anchors
    depth: np.ndarray  # N, pixels, + away from the camera; 0 for fixed anchors
    moving: np.ndarray  # N, bool: False for the anchors around the head and on the border
    centre: tuple[float, float]  # the head's axis in the picture (x, y)
    radius: float  # the cylinder's radius: the head's centre lies this far behind the face


@dataclass(frozen=True)
class Face:
    """A photograph and the 68 landmarks (pixels) of its one face."""

    image: np.ndarray
    landmarks: np.ndarray
    mesh: HeadMesh = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mesh", head_mesh(self.landmarks, self.image.shape))

    @classmethod
    def of(cls, image: np.ndarray) -> Face:
        found = FaceTracker().observe(image)
        if found.landmarks is None:
            raise ValueError(f"need exactly one face, found: {found.status.value}")
        return cls(image, found.landmarks)

    @property
    def iod(self) -> float:
        """Inter-ocular distance (between the eye centres) in pixels."""
        left, right = (self.landmarks[a:b].mean(axis=0) for a, b in EYES)
        return float(np.linalg.norm(right - left))


def _eye_mask(shape: tuple[int, ...], landmarks: np.ndarray, grow_px: int) -> np.ndarray:
    mask: np.ndarray = np.zeros(shape[:2], np.uint8)
    for a, b in EYES:
        cv2.fillPoly(mask, [np.round(landmarks[a:b]).astype(np.int32)], (255,))
    if grow_px:
        mask = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=grow_px)
    return mask


def close_eyes(face: Face, image: np.ndarray | None = None) -> np.ndarray:
    """Both eyes shut: the openings filled with lid skin, a dark lash line where lids meet."""
    source = face.image if image is None else image
    out = cv2.inpaint(source, _eye_mask(source.shape, face.landmarks, 2), 5, cv2.INPAINT_TELEA)
    for a, _ in EYES:
        e = face.landmarks[a : a + 6]
        lash = [e[0], (e[1] + e[5]) / 2 + (0, 1), (e[2] + e[4]) / 2 + (0, 1), e[3]]
        cv2.polylines(out, [np.round(lash).astype(np.int32)], False, LASH_BGR, 1, cv2.LINE_AA)
    return out


def shift_brows(face: Face, amount_iod: float, image: np.ndarray | None = None) -> np.ndarray:
    """The brows moved up (+) or down (-) by `amount_iod` inter-ocular distances.

    Output pixel (x, y) samples the input at (x, y + d(x, y)), so d > 0 lifts the content.
    d is largest on each brow, falls linearly to 0 at the top of the eye opening (the least
    stretch of the lid) and smoothly to 0 a brow-width above. Keep |amount| at 0.12 or less:
    on the astronaut, dlib reads a raise of 0.10 as ~0.07 but misplaces the lids and stops
    seeing the raise from 0.14 on (and the picture folds past the brow-to-lid gap).
    """
    source = face.image if image is None else image
    h, w = source.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    shift = np.zeros((h, w), np.float32)
    amount = amount_iod * face.iod
    for (a, b), (ea, eb) in zip(BROWS, EYES, strict=True):
        brow = face.landmarks[a:b]
        brow_y = float(brow[:, 1].mean())
        below = max(float(face.landmarks[ea:eb, 1].min()) - brow_y, 2.0)
        above = 2.5 * below
        across = np.exp(-(((xs - float(brow[:, 0].mean())) / (0.9 * np.ptp(brow[:, 0]))) ** 4))
        up = np.clip(1 - (brow_y - ys) / above, 0, 1)
        up = up * up * (3 - 2 * up)
        down = np.clip(1 - (ys - brow_y) / below, 0, 1)
        shift += amount * across * np.where(ys <= brow_y, up, down)
    return cv2.remap(source, xs, ys + shift, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def shift_irises(
    face: Face, amount_eye_width: float, image: np.ndarray | None = None
) -> np.ndarray:
    """The irises moved right (+) or left (-) by a share of the eye's width; lids unchanged.

    Where the iris leaves, the white of the eye shows (the opening's median colour or the
    moved picture, whichever is lighter).
    """
    source = face.image if image is None else image
    out = source.copy()
    h, w = source.shape[:2]
    opening = _eye_mask(source.shape, face.landmarks, 0) > 0
    columns = np.arange(w)[None, :].repeat(h, axis=0)
    for a, b in EYES:
        e = face.landmarks[a:b]
        dx = amount_eye_width * float(np.linalg.norm(e[3] - e[0]))
        moved = cv2.warpAffine(
            source,
            np.array([[1, 0, dx], [0, 1, 0]], np.float32),
            (w, h),
            borderMode=cv2.BORDER_REFLECT,
        )
        this_eye = np.zeros((h, w), bool)
        x0, y0 = np.floor(e.min(axis=0)).astype(int)
        x1, y1 = np.ceil(e.max(axis=0)).astype(int) + 1
        this_eye[y0:y1, x0:x1] = True
        inside = opening & this_eye
        white = np.median(source[inside], axis=0)
        vacated = inside & ((columns < x0 + dx) if dx > 0 else (columns > x1 + dx))
        moved[vacated] = np.maximum(white, moved[vacated])
        out[inside] = moved[inside]
    return out


def head_mesh(landmarks: np.ndarray, shape: tuple[int, ...]) -> HeadMesh:
    """The surface a head turn moves: landmarks plus forehead points, on a cylinder.

    The cylinder's radius is half the jaw width. The six head-model points (nose tip, chin,
    eye and mouth corners) get the generic head's depths, scaled to this face (eye corners
    stay on the cylinder); a thin-plate spline carries that correction to the other
    landmarks and fades it to 0 on the jaw line and the forehead. A ring around the head and
    the picture's border stay put.
    """
    h, w = shape[:2]
    centre_x = float(landmarks[[0, 16], 0].mean())
    radius = float(np.ptp(landmarks[[0, 16], 0])) / 2
    iod = float(np.linalg.norm(landmarks[42:48].mean(axis=0) - landmarks[36:42].mean(axis=0)))
    face_points = np.vstack([landmarks, landmarks[17:27] - (0, 0.7 * iod)])

    def cylinder(x: np.ndarray) -> np.ndarray:
        dx = np.clip(x - centre_x, -radius * 0.999, radius * 0.999)
        return radius - np.sqrt(radius**2 - dx**2)

    depth = cylinder(face_points[:, 0])
    keys = list(HEAD_MODEL_LANDMARKS)
    mm = float(np.linalg.norm(landmarks[45] - landmarks[36])) / float(np.ptp(HEAD_MODEL_MM[:, 0]))
    eye_corner_depth = float(cylinder(landmarks[[36, 45], 0]).mean())
    target = eye_corner_depth + (HEAD_MODEL_MM[:, 2] - HEAD_MODEL_MM[2, 2]) * mm
    still = [i for i in range(17) if i not in keys] + list(range(68, len(face_points)))
    anchors = np.vstack([face_points[keys], face_points[still]])
    correction = np.concatenate([target - depth[keys], np.zeros(len(still))])
    depth = depth + RBFInterpolator(anchors, correction, kernel="thin_plate_spline")(face_points)
    for a, _ in EYES:  # the lids' outline (and the pupil inside it) in front of the corners
        width = float(np.linalg.norm(landmarks[a + 3] - landmarks[a]))
        corners = float(depth[[a, a + 3]].mean())
        depth[[a + 1, a + 2, a + 4, a + 5]] = corners - PUPIL_AHEAD_MM / EYE_WIDTH_MM * width

    centre_y = float(face_points[:, 1].mean())
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    ring = np.column_stack(
        [
            centre_x + 1.6 * radius * np.cos(angles),
            centre_y + float(np.ptp(face_points[:, 1])) * np.sin(angles),
        ]
    )
    border = np.array(
        [(x, y) for x in (0, w / 2, w - 1) for y in (0, h / 2, h - 1) if (x, y) != (w / 2, h / 2)]
    )
    fixed = np.vstack([ring, border])
    return HeadMesh(
        points=np.vstack([face_points, fixed]),
        depth=np.concatenate([depth, np.zeros(len(fixed))]),
        moving=np.concatenate([np.ones(len(face_points), bool), np.zeros(len(fixed), bool)]),
        centre=(centre_x, centre_y),
        radius=radius,
    )


def turned_points(mesh: HeadMesh, yaw: float, pitch: float) -> np.ndarray:
    """Where the mesh's points land when the head turns by `yaw` and `pitch` degrees.

    Signs as in features.head_pose: yaw + turns the nose to the image's right, pitch + lifts
    it. Orthographic projection: a face is shallow next to its distance from the camera.
    """
    cx, cy = mesh.centre
    x = mesh.points[:, 0] - cx
    y = mesh.points[:, 1] - cy
    z = mesh.depth - mesh.radius  # about the head's centre, one radius behind the face
    a, b = math.radians(yaw), math.radians(pitch)
    x1 = x * math.cos(a) - z * math.sin(a)
    z1 = x * math.sin(a) + z * math.cos(a)
    y1 = y * math.cos(b) + z1 * math.sin(b)
    turned = np.column_stack([x1 + cx, y1 + cy])
    return np.where(mesh.moving[:, None], turned, mesh.points)


def turn_head(
    face: Face, yaw: float, pitch: float = 0.0, image: np.ndarray | None = None
) -> np.ndarray:
    """The picture with the head turned by `yaw` and `pitch` degrees."""
    source = face.image if image is None else image
    if yaw == 0 and pitch == 0:
        return source.copy()
    src = face.mesh.points
    dst = turned_points(face.mesh, yaw, pitch)
    out = source.copy()
    for triangle in Delaunay(src).simplices:
        _warp_triangle(source, out, src[triangle], dst[triangle])
    return out


def _warp_triangle(source: np.ndarray, out: np.ndarray, src: np.ndarray, dst: np.ndarray) -> None:
    """Draw the `src` triangle of `source` onto the `dst` triangle of `out` (affine)."""
    h, w = out.shape[:2]
    x0, y0 = np.maximum(np.floor(dst.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(dst.max(axis=0)).astype(int) + 1, (w, h))
    if x1 <= x0 or y1 <= y0:
        return
    matrix = cv2.getAffineTransform(src.astype(np.float32), (dst - (x0, y0)).astype(np.float32))
    patch = cv2.warpAffine(
        source, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, np.round(dst - (x0, y0)).astype(np.int32), (255,))
    region = out[y0:y1, x0:x1]
    region[mask > 0] = patch[mask > 0]
