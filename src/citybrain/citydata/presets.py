"""Mappings for two real open-data shapes: ``nyc-dob-permits`` and ``berlin-viz``.

``nyc-dob-permits``: NYC Department of Buildings "DOB Permit Issuance" (NYC Open Data, dataset
``ipu4-2q9a``). Its CSV from the API (``/resource/ipu4-2q9a.csv``) names the columns by their field
names (``job__``, ``permittee_s_business_name``, ``gis_latitude``...); the portal's "Export" CSV
writes the display names (``Job #``, ``Permittee's Business Name``, ``LATITUDE``...), which the
preset takes as aliases. One row is one permit of one work type, so a job with several permits
has several rows: they make one site, valid from the first issuance to the last expiration.
Rows not yet geocoded (no latitude/longitude) are skipped and listed. The permittee's first and
last name, phone and licence, the owner's name, address and phone, and the site safety manager's
and superintendent's names are never read.

``berlin-viz``: the road works and closures of the Verkehrsinformationszentrale Berlin
("Baustellen, Sperrungen und sonstige Störungen von besonderem Verkehrsinteresse",
``https://api.viz.berlin.de/daten/baustellen_sperrungen.json``): a FeatureCollection whose
features are a Point, a LineString or a GeometryCollection of both, with ``validity: {from, to}``
as ``DD.MM.YYYY HH:MM`` Berlin time (newer files write ISO 8601, also read), ``subtype``
(Baustelle, Sperrung, ...), ``severity`` (keine Sperrung, Fahrtrichtungssperrung,
Vollsperrung), ``street``, ``section``, ``content`` and ``direction``. Features without an ``id``
(older files) get one from their first coordinate and start.
"""

from __future__ import annotations

from citybrain.citydata.mapping import DateSpec, GeometrySpec, Mapping

__all__ = ["BERLIN_VIZ", "NYC_DOB_PERMITS", "PRESETS", "preset"]

#: Metres around a permit's geocoded point (a building lot and the sidewalk shed in front of it).
NYC_RADIUS_M = 30.0
#: Metres either side of a road-works line (a carriageway and its footway).
BERLIN_RADIUS_M = 15.0

#: The portal's export headers -> the API's field names.
_NYC_EXPORT_HEADERS = {
    "BOROUGH": "borough",
    "Bin #": "bin__",
    "House #": "house__",
    "Street Name": "street_name",
    "Job #": "job__",
    "Job doc. #": "job_doc___",
    "Job Type": "job_type",
    "Zip Code": "zip_code",
    "Work Type": "work_type",
    "Permit Status": "permit_status",
    "Permit Type": "permit_type",
    "Permit Subtype": "permit_subtype",
    "Issuance Date": "issuance_date",
    "Expiration Date": "expiration_date",
    "Permittee's Business Name": "permittee_s_business_name",
    "LATITUDE": "gis_latitude",
    "LONGITUDE": "gis_longitude",
}

_NYC_DATE = ["%m/%d/%Y", "%m/%d/%Y %I:%M:%S %p", "iso"]

NYC_DOB_PERMITS = Mapping(
    source="nyc-dob-permits",
    format="csv",
    kind="construction_permit",
    id="job__",
    name="{house__} {street_name}, {borough}",
    geometry=GeometrySpec(lat="gis_latitude", lon="gis_longitude", radius_m=NYC_RADIUS_M),
    valid_from=DateSpec(field="issuance_date", formats=_NYC_DATE, timezone="America/New_York"),
    valid_to=DateSpec(field="expiration_date", formats=_NYC_DATE, timezone="America/New_York"),
    attributes={
        "permit_number": "job__",
        "contractor": "permittee_s_business_name",
        "job_type": "job_type",
        "permit_type": "permit_type",
        "permit_status": "permit_status",
        "issuance_date": "issuance_date",
        "expiration_date": "expiration_date",
        "house_number": "house__",
        "street_name": "street_name",
        "borough": "borough",
        "zip_code": "zip_code",
    },
    context=["permit_number", "contractor", "job_type", "permit_type", "permit_status"],
    aliases=_NYC_EXPORT_HEADERS,
    missing_geometry="skip",
    duplicates="merge",
)

_VIZ_DATE = ["%d.%m.%Y %H:%M", "%d.%m.%Y", "iso"]

BERLIN_VIZ = Mapping(
    source="berlin-viz",
    format="geojson",
    kind="road_works",
    id="id",
    id_missing="derive",
    name="{street} {section}",
    geometry=GeometrySpec(radius_m=BERLIN_RADIUS_M),
    valid_from=DateSpec(field="validity.from", formats=_VIZ_DATE, timezone="Europe/Berlin"),
    valid_to=DateSpec(field="validity.to", formats=_VIZ_DATE, timezone="Europe/Berlin"),
    attributes={
        "subtype": "subtype",
        "severity": "severity",
        "street": "street",
        "section": "section",
        "content": "content",
        "direction": "direction",
    },
    context=["subtype", "severity", "street", "section"],
)

PRESETS: dict[str, Mapping] = {
    NYC_DOB_PERMITS.source: NYC_DOB_PERMITS,
    BERLIN_VIZ.source: BERLIN_VIZ,
}


def preset(name: str) -> Mapping:
    """The preset called ``name``.

    Raises:
        KeyError: no such preset; the message lists the known ones.
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; known: {sorted(PRESETS)}") from None
