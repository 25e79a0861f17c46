"""A camera's calibration: a homography between the ground plane and its image.

Four or more pairs of an image point (normalised ``0..1`` of width and height, origin top left, as
in camera configs) and the ground point it shows (WGS 84 longitude/latitude) fix the plane-to-
plane homography (OpenCV's ``findHomography``, least squares). With it a site's outline is drawn
into the image: the part of the site in front of the camera (a ground point behind it has no
image) is projected and clipped to the frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations

import cv2
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from citybrain.citydata.errors import GeometryError
from citybrain.citydata.geo import LocalProjection, outside_wgs84

__all__ = ["Calibration", "zone_polygon"]

FRAME = shapely.box(0.0, 0.0, 1.0, 1.0)
#: Ground points whose homogeneous scale is below this share of the calibration points' smallest
#: are treated as on or beyond the horizon: their image would be unbounded.
_HORIZON_MARGIN = 1e-3
#: A projected outline smaller than this share of the frame is not a usable zone.
MIN_ZONE_AREA = 1e-4

Points = NDArray[np.float64]


@dataclass(frozen=True)
class Calibration:
    """Ground (metres around ``origin``) to normalised image coordinates.

    Attributes:
        matrix: The 3x3 homography, ground metres -> image.
        origin: ``(lon, lat)`` the ground metres are measured from.
        rms_error: Root mean square distance, in normalised image units, between the image
            points given and those the homography puts there.
        side: The sign of the homogeneous scale of ground points in front of the camera.
        min_scale: The smallest homogeneous scale among the calibration points (times side).
    """

    matrix: NDArray[np.float64]
    origin: tuple[float, float]
    rms_error: float
    side: float
    min_scale: float

    @classmethod
    def from_pairs(
        cls, image_points: Sequence[Sequence[float]], ground_points: Sequence[Sequence[float]]
    ) -> Calibration:
        """Fit the homography to ``image_points[i]`` <-> ``ground_points[i]`` (``[lon, lat]``).

        Raises:
            GeometryError: fewer than four pairs, points out of range, or points that fix no
                homography (three on one line, repeated points).
        """
        image = np.asarray(image_points, dtype=np.float64)
        ground = np.asarray(ground_points, dtype=np.float64)
        if image.ndim != 2 or ground.shape != image.shape or image.shape[1:] != (2,):
            raise GeometryError("calibration: equally many [x, y] and [lon, lat] points needed")
        if len(image) < 4:
            raise GeometryError(f"calibration: at least 4 point pairs are needed, got {len(image)}")
        if not np.isfinite(image).all() or (image < 0).any() or (image > 1).any():
            raise GeometryError("calibration: image points are normalised, 0..1")
        if bool(outside_wgs84(shapely.multipoints(ground))[0]):
            raise GeometryError("calibration: ground points are [lon, lat] in WGS 84 degrees")
        origin = (float(ground[:, 0].mean()), float(ground[:, 1].mean()))
        metres = LocalProjection(*origin).points_to_metres(ground)
        _check_spread(image, metres)
        found, _ = cv2.findHomography(metres, image, 0)
        if found is None:
            raise GeometryError("calibration: these points fix no homography")
        matrix: NDArray[np.float64] = np.asarray(found, dtype=np.float64)
        if not np.isfinite(matrix).all() or abs(np.linalg.det(matrix)) < 1e-15:
            raise GeometryError("calibration: these points fix no homography")
        scale = metres @ matrix[2, :2] + matrix[2, 2]
        side = 1.0 if (scale > 0).all() else -1.0 if (scale < 0).all() else 0.0
        if side == 0.0:
            raise GeometryError("calibration: the points do not lie on one side of the horizon")
        projected = _apply(matrix, metres)
        rms = float(np.sqrt(np.mean(np.sum((projected - image) ** 2, axis=1))))
        return cls(matrix, origin, rms, side, float(np.min(scale * side)))

    @cached_property
    def projection(self) -> LocalProjection:
        """The metres the matrix works in: centred on the calibration points."""
        return LocalProjection(*self.origin)

    def ground_to_image(self, lonlat: Sequence[Sequence[float]] | Points) -> Points:
        """``(N, 2)`` image points of ground points (``nan`` for points behind the camera)."""
        metres = self.projection.points_to_metres(np.asarray(lonlat, dtype=np.float64))
        scale = (metres @ self.matrix[2, :2] + self.matrix[2, 2]) * self.side
        points = _apply(self.matrix, metres)
        points[scale <= self.min_scale * _HORIZON_MARGIN] = np.nan
        return points

    def image_to_ground(self, image_points: Sequence[Sequence[float]] | Points) -> Points:
        """``(N, 2)`` ground ``[lon, lat]`` of image points (on the ground plane)."""
        inverse = np.linalg.inv(self.matrix)
        image = np.asarray(image_points, dtype=np.float64).reshape(-1, 2)
        metres = _apply(np.asarray(inverse, dtype=np.float64), image)
        return self.projection.points_to_wgs84(metres)

    def project(self, area: BaseGeometry) -> BaseGeometry:
        """The part of a WGS 84 area the camera sees, in normalised image coordinates.

        Empty when none of it is in front of the camera and inside the frame.
        """
        metres = self.projection.to_metres(area)
        front = metres.intersection(self._front_half_plane(metres.bounds))
        if front.is_empty:
            return Polygon()
        image = shapely.transform(front, lambda xy: _apply(self.matrix, xy))
        return shapely.make_valid(image).intersection(FRAME)

    def _front_half_plane(self, bounds: tuple[float, float, float, float]) -> BaseGeometry:
        """The part of ``bounds`` (grown a little) where ground points are in front."""
        x0, y0, x1, y1 = bounds
        pad = max(x1 - x0, y1 - y0, 1.0)
        box = [
            (x0 - pad, y0 - pad),
            (x1 + pad, y0 - pad),
            (x1 + pad, y1 + pad),
            (x0 - pad, y1 + pad),
        ]
        a, b, c = self.matrix[2] * self.side
        limit = self.min_scale * _HORIZON_MARGIN

        def value(point: tuple[float, float]) -> float:
            return float(a * point[0] + b * point[1] + c - limit)

        kept: list[tuple[float, float]] = []
        for i, p in enumerate(box):  # Sutherland-Hodgman: clip the box by one line
            q = box[(i + 1) % 4]
            vp, vq = value(p), value(q)
            if vp >= 0:
                kept.append(p)
            if (vp >= 0) != (vq >= 0):
                t = vp / (vp - vq)
                kept.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
        return Polygon(kept) if len(kept) >= 3 else Polygon()


def zone_polygon(image_area: BaseGeometry, *, decimals: int = 4) -> list[list[float]] | None:
    """A camera-config zone polygon (``[[x, y], ...]``) for a projected area, or ``None``.

    A zone is one simple polygon: an area in several pieces becomes their convex hull, holes are
    dropped, and the outline is simplified to about a pixel of a 1000-pixel frame.
    """
    if image_area.is_empty or image_area.area < MIN_ZONE_AREA:
        return None
    polygon = image_area if image_area.geom_type == "Polygon" else image_area.convex_hull
    if polygon.geom_type != "Polygon":
        return None
    outline = Polygon(polygon.exterior).simplify(0.001, preserve_topology=True)
    coords = np.clip(np.round(np.asarray(outline.exterior.coords)[:-1], decimals), 0.0, 1.0)
    return coords.tolist() if len(coords) >= 3 else None


def _apply(matrix: NDArray[np.float64], xy: Points) -> Points:
    homogeneous = np.column_stack([xy, np.ones(len(xy))]) @ matrix.T
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(homogeneous[:, :2] / homogeneous[:, 2:3], dtype=np.float64)


def _check_spread(image: Points, metres: Points) -> None:
    """Refuse point sets that fix no homography: repeated points, all on one line, or (with
    exactly four) three on one line."""
    for points, what in ((image, "image"), (metres, "ground")):
        span = float(np.ptp(points, axis=0).max()) or 1.0
        for i, j in combinations(range(len(points)), 2):
            if np.linalg.norm(points[i] - points[j]) < 1e-6 * span:
                raise GeometryError(f"calibration: {what} points {i} and {j} are the same")
        triples = combinations(range(len(points)), 3) if len(points) == 4 else [()]
        for triple in triples:
            subset = points[list(triple)] if triple else points
            centred = subset - subset.mean(axis=0)
            if np.linalg.svd(centred, compute_uv=False)[-1] < 1e-4 * span:
                which = f"points {list(triple)}" if triple else "all points"
                raise GeometryError(f"calibration: {what} {which} lie on one line")
