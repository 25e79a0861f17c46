"""A calibrated camera projects a site's outline into its image, checked against a pinhole model."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from numpy.typing import NDArray

from citybrain.citydata import Calibration, GeometryError, LocalProjection, zone_polygon

LON, LAT = 13.3777, 52.5163
GROUND = LocalProjection(LON, LAT)


class Pinhole:
    """A real camera 6 m up at (0, -10), looking north, tilted down 25 degrees, 1280x720 pixels
    with a focal length of 900 pixels: where a ground point (metres east, north) appears."""

    height, tilt, focal, width, rows = 6.0, np.radians(25.0), 900.0, 1280.0, 720.0
    centre = np.array([0.0, -10.0, 6.0])

    def image(self, xy: NDArray[np.float64]) -> NDArray[np.float64]:
        forward = np.array([0.0, np.cos(self.tilt), -np.sin(self.tilt)])
        right = np.array([1.0, 0.0, 0.0])
        down = np.cross(forward, right)
        ray = np.column_stack([xy, np.zeros(len(xy))]) - self.centre
        depth = ray @ forward
        u = self.width / 2 + self.focal * (ray @ right) / depth
        v = self.rows / 2 + self.focal * (ray @ down) / depth
        return np.column_stack([u / self.width, v / self.rows])

    def calibration(self, ground_xy: NDArray[np.float64]) -> Calibration:
        return Calibration.from_pairs(self.image(ground_xy), GROUND.points_to_wgs84(ground_xy))


CAMERA = Pinhole()
MARKS = np.array([[-4.0, 8.0], [4.0, 8.0], [6.0, 25.0], [-6.0, 25.0], [0.0, 15.0]])


def test_a_top_down_camera_maps_a_square_site_to_a_square_zone() -> None:
    # Straight down, 1 cm per thousandth of the frame: u = 0.5 + x/100, v = 0.5 - y/100.
    ground = np.array([[-40.0, -40.0], [40.0, -40.0], [40.0, 40.0], [-40.0, 40.0]])
    image = np.column_stack([0.5 + ground[:, 0] / 100, 0.5 - ground[:, 1] / 100])
    calibration = Calibration.from_pairs(image, GROUND.points_to_wgs84(ground))
    site = GROUND.to_wgs84(shapely.box(0.0, 0.0, 20.0, 20.0))

    zone = zone_polygon(calibration.project(site))

    assert zone is not None
    corners = sorted(tuple(p) for p in zone)
    expected = sorted([(0.5, 0.5), (0.7, 0.5), (0.7, 0.3), (0.5, 0.3)])
    assert np.allclose(corners, expected, atol=2e-4)
    assert calibration.rms_error < 1e-6


def test_projection_of_a_known_polygon_matches_the_pinhole_camera() -> None:
    calibration = CAMERA.calibration(MARKS)
    site_xy = np.array([[-3.0, 12.0], [5.0, 14.0], [2.0, 22.0], [-4.0, 19.0]])
    site = GROUND.to_wgs84(shapely.Polygon(site_xy))

    projected = calibration.project(site)

    expected = shapely.Polygon(CAMERA.image(site_xy))
    assert projected.symmetric_difference(expected).area < 1e-4 * expected.area
    assert calibration.rms_error < 1e-6
    assert np.allclose(calibration.ground_to_image(GROUND.points_to_wgs84(site_xy)),
                       CAMERA.image(site_xy), atol=1e-6)  # fmt: skip


def test_a_site_wider_than_the_view_is_clipped_to_the_frame() -> None:
    calibration = CAMERA.calibration(MARKS)
    site_xy = np.array([[-60.0, 15.0], [60.0, 15.0], [60.0, 30.0], [-60.0, 30.0]])

    projected = calibration.project(GROUND.to_wgs84(shapely.Polygon(site_xy)))

    expected = shapely.Polygon(CAMERA.image(site_xy)).intersection(shapely.box(0, 0, 1, 1))
    x0, _, x1, _ = projected.bounds
    assert (x0, x1) == (pytest.approx(0.0), pytest.approx(1.0))
    assert projected.symmetric_difference(expected).area < 1e-4 * expected.area


def test_the_part_of_a_site_behind_the_camera_is_not_drawn() -> None:
    calibration = CAMERA.calibration(MARKS)
    # From 30 m behind the camera (y = -40) to 20 m in front of it: only the front shows.
    site = GROUND.to_wgs84(shapely.box(-5.0, -40.0, 5.0, 20.0))

    projected = calibration.project(site)

    in_front = np.array([[-5.0, -9.0], [5.0, -9.0], [5.0, 20.0], [-5.0, 20.0]])
    expected = shapely.Polygon(CAMERA.image(in_front)).intersection(shapely.box(0, 0, 1, 1))
    assert not projected.is_empty
    assert projected.symmetric_difference(expected).area < 1e-3 * expected.area
    behind = GROUND.to_wgs84(shapely.box(-5.0, -60.0, 5.0, -20.0))
    assert calibration.project(behind).is_empty
    assert np.isnan(
        calibration.ground_to_image(GROUND.points_to_wgs84(np.array([[0.0, -30.0]])))
    ).all()


def test_image_to_ground_inverts_the_calibration() -> None:
    calibration = CAMERA.calibration(MARKS)
    back = calibration.image_to_ground(CAMERA.image(MARKS))
    # Within millimetres: the fit works in metres around the marks, not around GROUND's centre.
    assert np.allclose(GROUND.points_to_metres(back), MARKS, atol=5e-3)


def test_more_pairs_than_four_are_fitted_by_least_squares() -> None:
    rng = np.random.default_rng(3)
    ground = np.vstack([MARKS, [[-2.0, 30.0], [3.0, 10.0]]])
    noisy = CAMERA.image(ground) + rng.normal(0, 0.002, (len(ground), 2))
    calibration = Calibration.from_pairs(noisy, GROUND.points_to_wgs84(ground))
    assert 0.0005 < calibration.rms_error < 0.005


@pytest.mark.parametrize(
    ("image", "ground", "message"),
    [
        ([[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]], [[13.0, 52.0], [13.1, 52.0], [13.1, 52.1]],
         "at least 4"),
        ([[0.1, 0.1], [0.5, 0.5], [0.9, 0.9], [0.1, 0.9]],
         [[13.0, 52.0], [13.1, 52.0], [13.1, 52.1], [13.0, 52.1]], "image points \\[0, 1, 2\\]"),
        ([[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.1]],
         [[13.0, 52.0], [13.1, 52.0], [13.1, 52.1], [13.0, 52.1]], "are the same"),
        ([[0.1, 0.1], [1.9, 0.1], [0.9, 0.9], [0.1, 0.9]],
         [[13.0, 52.0], [13.1, 52.0], [13.1, 52.1], [13.0, 52.1]], "normalised"),
        ([[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]],
         [[530000, 180000], [530100, 180000], [530100, 180100], [530000, 180100]], "WGS 84"),
        ([[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]], [[13.0, 52.0]], "equally many"),
    ],
)  # fmt: skip
def test_point_sets_that_fix_no_homography_are_refused(
    image: list[list[float]], ground: list[list[float]], message: str
) -> None:
    with pytest.raises(GeometryError, match=message):
        Calibration.from_pairs(image, ground)


def test_zone_polygon_makes_one_simple_polygon_or_none() -> None:
    two = shapely.MultiPolygon([shapely.box(0.1, 0.1, 0.2, 0.2), shapely.box(0.5, 0.1, 0.6, 0.2)])
    hull = zone_polygon(two)
    assert hull is not None
    assert shapely.Polygon(hull).equals(shapely.box(0.1, 0.1, 0.6, 0.2))
    assert zone_polygon(shapely.box(0.5, 0.5, 0.505, 0.505)) is None
    assert zone_polygon(shapely.Polygon()) is None
