"""City data: sites from permits and registries, camera footprints, coverage and rules from data.

Pure computation apart from :func:`import_file` and :mod:`citybrain.citydata.fetch`, which read
files, folders and URLs, always with a size bound. Geometry is Shapely in WGS 84 (x = longitude).
"""

from citybrain.citydata.bulk import no_cyclic_gc
from citybrain.citydata.calibration import Calibration, zone_polygon
from citybrain.citydata.changes import ChangeLog, diff_sites
from citybrain.citydata.convert import ImportResult
from citybrain.citydata.coverage import CoverageReport, KindCoverage, SiteCoverage, coverage
from citybrain.citydata.errors import GeometryError, SiteImportError
from citybrain.citydata.fetch import Download, fetch_url, newest_file, read_location
from citybrain.citydata.footprint import (
    camera_footprint,
    drawn_footprint,
    footprint_pairs,
    sector,
    sectors,
    sites_seen,
)
from citybrain.citydata.geo import LocalProjection, area_m2, area_m2_local, buffer_m, parse_crs
from citybrain.citydata.importer import (
    DEFAULT_MAX_BYTES,
    import_bytes,
    import_file,
    import_text,
    read_bounded,
)
from citybrain.citydata.mapping import Mapping, is_personal_field, load_mapping, parse_mapping
from citybrain.citydata.model import SITE_KINDS, Site, active_sites, next_change, site_id
from citybrain.citydata.presets import BERLIN_VIZ, NYC_DOB_PERMITS, PRESETS, preset
from citybrain.citydata.site_rules import (
    CameraView,
    RuleTemplate,
    SiteRule,
    SiteRules,
    parse_site_rules,
    rules_for_camera,
    site_context,
)

__all__ = [
    "BERLIN_VIZ",
    "DEFAULT_MAX_BYTES",
    "NYC_DOB_PERMITS",
    "PRESETS",
    "SITE_KINDS",
    "Calibration",
    "CameraView",
    "ChangeLog",
    "CoverageReport",
    "Download",
    "GeometryError",
    "ImportResult",
    "KindCoverage",
    "LocalProjection",
    "Mapping",
    "RuleTemplate",
    "Site",
    "SiteCoverage",
    "SiteImportError",
    "SiteRule",
    "SiteRules",
    "active_sites",
    "area_m2",
    "area_m2_local",
    "buffer_m",
    "camera_footprint",
    "coverage",
    "diff_sites",
    "drawn_footprint",
    "fetch_url",
    "footprint_pairs",
    "import_bytes",
    "import_file",
    "import_text",
    "is_personal_field",
    "load_mapping",
    "newest_file",
    "next_change",
    "no_cyclic_gc",
    "parse_crs",
    "parse_mapping",
    "parse_site_rules",
    "preset",
    "read_bounded",
    "read_location",
    "rules_for_camera",
    "sector",
    "sectors",
    "site_context",
    "site_id",
    "sites_seen",
    "zone_polygon",
]
