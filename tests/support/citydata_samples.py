"""Small files in the real shapes of the two presets, for the city-data tests.

``nyc_csv``: NYC DOB Permit Issuance (NYC Open Data ``ipu4-2q9a``) as its API's CSV names the
columns, every column of the dataset, the personal ones (permittee's and owner's names, phones,
the owner's home address, the site safety manager's and superintendent's names) filled in, so a
test can check they never get through. ``nyc_export_csv``: the same rows under the portal's
"Export" headers (``Job #``, ``Permittee's Business Name``, ``LATITUDE``...).

``viz_feature`` / ``viz_collection``: VIZ Berlin road works (``baustellen_sperrungen.json``),
a FeatureCollection of Point, LineString or GeometryCollection features with ``validity: {from,
to}`` as ``DD.MM.YYYY HH:MM``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

__all__ = [
    "NYC_COLUMNS",
    "NYC_EXPORT_HEADERS",
    "NYC_PERSONAL_VALUES",
    "nyc_csv",
    "nyc_export_csv",
    "nyc_row",
    "viz_collection",
    "viz_feature",
]

#: The dataset's field names, in its order (as ``/resource/ipu4-2q9a.csv`` writes its header).
NYC_COLUMNS = (
    "borough", "bin__", "house__", "street_name", "job__", "job_doc___", "job_type", "self_cert",
    "block", "lot", "community_board", "zip_code", "bldg_type", "residential",
    "special_district_1", "special_district_2", "work_type", "permit_status", "filing_status",
    "permit_type", "permit_sequence__", "permit_subtype", "oil_gas", "site_fill", "filing_date",
    "issuance_date", "expiration_date", "job_start_date", "permittee_s_first_name",
    "permittee_s_last_name", "permittee_s_business_name", "permittee_s_phone__",
    "permittee_s_license_type", "permittee_s_license__", "act_as_superintendent",
    "permittee_s_other_title", "hic_license", "site_safety_mgr_s_first_name",
    "site_safety_mgr_s_last_name", "site_safety_mgr_business_name",
    "superintendent_first___last_name", "superintendent_business_name", "owner_s_business_type",
    "non_profit", "owner_s_business_name", "owner_s_first_name", "owner_s_last_name",
    "owner_s_house__", "owner_s_house_street_name", "city", "state", "owner_s_zip_code",
    "owner_s_phone__", "dobrundate", "permit_si_no", "gis_latitude", "gis_longitude",
    "gis_council_district", "gis_census_tract", "gis_nta_name",
)  # fmt: skip

#: The portal's export headers for the same columns (three of them with a typographic apostrophe).
NYC_EXPORT_HEADERS = {
    "borough": "BOROUGH", "bin__": "Bin #", "house__": "House #", "street_name": "Street Name",
    "job__": "Job #", "job_doc___": "Job doc. #", "job_type": "Job Type",
    "self_cert": "Self_Cert", "block": "Block", "lot": "Lot",
    "community_board": "Community Board", "zip_code": "Zip Code", "bldg_type": "Bldg Type",
    "residential": "Residential", "special_district_1": "Special District 1",
    "special_district_2": "Special District 2", "work_type": "Work Type",
    "permit_status": "Permit Status", "filing_status": "Filing Status",
    "permit_type": "Permit Type", "permit_sequence__": "Permit Sequence #",
    "permit_subtype": "Permit Subtype", "oil_gas": "Oil Gas", "site_fill": "Site Fill",
    "filing_date": "Filing Date", "issuance_date": "Issuance Date",
    "expiration_date": "Expiration Date", "job_start_date": "Job Start Date",
    "permittee_s_first_name": "Permittee's First Name",
    "permittee_s_last_name": "Permittee's Last Name",
    "permittee_s_business_name": "Permittee's Business Name",
    "permittee_s_phone__": "Permittee's Phone #",
    "permittee_s_license_type": "Permittee's License Type",
    "permittee_s_license__": "Permittee's License #",
    "act_as_superintendent": "Act as Superintendent",
    "permittee_s_other_title": "Permittee's Other Title", "hic_license": "HIC License",
    "site_safety_mgr_s_first_name": "Site Safety Mgr's First Name",
    "site_safety_mgr_s_last_name": "Site Safety Mgr's Last Name",
    "site_safety_mgr_business_name": "Site Safety Mgr Business Name",
    "superintendent_first___last_name": "Superintendent First & Last Name",
    "superintendent_business_name": "Superintendent Business Name",
    "owner_s_business_type": "Owner's Business Type", "non_profit": "Non-Profit",
    "owner_s_business_name": "Owner's Business Name",
    "owner_s_first_name": "Owner's First Name", "owner_s_last_name": "Owner's Last Name",
    "owner_s_house__": "Owner's House #", "owner_s_house_street_name": "Owner's House Street Name",
    "city": "Owner\u2019s House City", "state": "Owner\u2019s House State",
    "owner_s_zip_code": "Owner\u2019s House Zip Code", "owner_s_phone__": "Owner's Phone #",
    "dobrundate": "DOBRunDate", "permit_si_no": "PERMIT_SI_NO", "gis_latitude": "LATITUDE",
    "gis_longitude": "LONGITUDE", "gis_council_district": "COUNCIL_DISTRICT",
    "gis_census_tract": "CENSUS_TRACT", "gis_nta_name": "NTA_NAME",
}  # fmt: skip

#: Values of personal columns in every sample row; none may appear in an imported site.
NYC_PERSONAL_VALUES = (
    "JOHN", "DOE", "2125550147", "MARIA", "ROSSI", "7185550199", "41-12", "QUEENS BLVD",
    "ALEX KIM", "PRIYA", "SHAH", "11104", "0067891",
)  # fmt: skip


def nyc_row(**fields: str) -> dict[str, str]:
    """One permit row: a general-construction permit at 350 West 42nd Street, Manhattan."""
    row = {
        "borough": "MANHATTAN", "bin__": "1025123", "house__": "350",
        "street_name": "WEST 42 STREET", "job__": "123456789", "job_doc___": "01",
        "job_type": "A2", "self_cert": "Y", "block": "01032", "lot": "00029",
        "community_board": "104", "zip_code": "10036", "bldg_type": "2", "residential": "",
        "special_district_1": "CL", "special_district_2": "", "work_type": "OT",
        "permit_status": "ISSUED", "filing_status": "INITIAL", "permit_type": "EW",
        "permit_sequence__": "01", "permit_subtype": "OT", "oil_gas": "", "site_fill": "",
        "filing_date": "03/01/2024", "issuance_date": "03/15/2024",
        "expiration_date": "03/14/2025", "job_start_date": "03/01/2024",
        "permittee_s_first_name": "JOHN", "permittee_s_last_name": "DOE",
        "permittee_s_business_name": "ACME BUILDERS LLC", "permittee_s_phone__": "2125550147",
        "permittee_s_license_type": "GC", "permittee_s_license__": "0067891",
        "act_as_superintendent": "", "permittee_s_other_title": "", "hic_license": "",
        "site_safety_mgr_s_first_name": "PRIYA", "site_safety_mgr_s_last_name": "SHAH",
        "site_safety_mgr_business_name": "", "superintendent_first___last_name": "ALEX KIM",
        "superintendent_business_name": "", "owner_s_business_type": "INDIVIDUAL",
        "non_profit": "N", "owner_s_business_name": "N/A", "owner_s_first_name": "MARIA",
        "owner_s_last_name": "ROSSI", "owner_s_house__": "41-12",
        "owner_s_house_street_name": "QUEENS BLVD", "city": "SUNNYSIDE", "state": "NY",
        "owner_s_zip_code": "11104", "owner_s_phone__": "7185550199",
        "dobrundate": "04/02/2024 12:00:00 AM", "permit_si_no": "3912345",
        "gis_latitude": "40.757929", "gis_longitude": "-73.991898",
        "gis_council_district": "3", "gis_census_tract": "115", "gis_nta_name": "Clinton",
    }  # fmt: skip
    row.update(fields)
    return row


def nyc_csv(*rows: dict[str, str], columns: tuple[str, ...] = NYC_COLUMNS) -> str:
    """CSV text of ``rows`` under the API's field names."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return out.getvalue()


def nyc_export_csv(*rows: dict[str, str]) -> str:
    """CSV text of ``rows`` under the portal's export headers (with a byte-order mark's worth
    of realism left to the caller)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([NYC_EXPORT_HEADERS[column] for column in NYC_COLUMNS])
    for row in rows:
        writer.writerow([row.get(column, "") for column in NYC_COLUMNS])
    return out.getvalue()


def viz_feature(
    geometry: dict[str, Any] | None = None,
    *,
    id: str | None = "8/2025",
    valid_from: str | None = "23.07.2025 07:00",
    valid_to: str | None = "17.08.2025 17:00",
    **properties: Any,
) -> dict[str, Any]:
    """One VIZ road-works feature: by default a GeometryCollection of a Point and a LineString
    on Wolfensteindamm."""
    if geometry is None:
        geometry = {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Point", "coordinates": [13.31985, 52.45061]},
                {"type": "LineString",
                 "coordinates": [[13.31985, 52.45061], [13.32120, 52.45010], [13.32290, 52.44951]]},
            ],
        }  # fmt: skip
    props: dict[str, Any] = {
        "subtype": "Baustelle",
        "severity": "keine Sperrung",
        "validity": {"from": valid_from, "to": valid_to},
        "street": "Wolfensteindamm",
        "section": "zwischen Schloßstraße und Bismarckstraße",
        "content": "Fahrbahn auf einen Fahrstreifen verengt, Bauarbeiten",
        "direction": "beidseitig",
        "icon": "baustelle",
        "is_future": False,
    }
    if id is not None:
        props["id"] = id
    props.update(properties)
    return {"type": "Feature", "geometry": geometry, "properties": props}


def viz_collection(*features: dict[str, Any]) -> str:
    """The feed's JSON text."""
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False)
