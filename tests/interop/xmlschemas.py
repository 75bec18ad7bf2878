"""The official XML Schemas of OAI-PMH and Dublin Core, loaded offline from ``xsd/``.

Imports between them name their official addresses; a resolver maps each address to the cached
file, so validation never touches the network (and fails loudly if a schema names another).
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

from lxml import etree

XSD = Path(__file__).resolve().parent / "xsd"

#: Official address → cached file.
LOCATIONS = {
    "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd": "OAI-PMH.xsd",
    "http://www.openarchives.org/OAI/2.0/oai_dc.xsd": "oai_dc.xsd",
    "http://dublincore.org/schemas/xmls/simpledc20021212.xsd": "simpledc20021212.xsd",
    "http://www.w3.org/2001/03/xml.xsd": "xml.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
}


class _Offline(etree.Resolver):
    def resolve(self, url, public_id, context):
        name = LOCATIONS.get(url) or (Path(url).name if Path(url).parent == XSD else None)
        if name is None:
            raise LookupError(f"a schema asked for {url!r}, which is not cached in {XSD}")
        return self.resolve_filename(str(XSD / name), context)


def _load(name: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_Offline())
    return etree.XMLSchema(etree.parse(str(XSD / name), parser))


@cache
def oai_pmh() -> etree.XMLSchema:
    return _load("OAI-PMH.xsd")


@cache
def oai_dc() -> etree.XMLSchema:
    return _load("oai_dc.xsd")


def assert_valid_oai(document: bytes) -> etree._Element:
    """Parse an OAI-PMH response strictly, validate it and every ``oai_dc`` record in it."""
    root = etree.fromstring(document, etree.XMLParser(no_network=True, resolve_entities=False))
    schema = oai_pmh()
    assert schema.validate(root), str(schema.error_log)
    for record in root.iter("{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"):
        dc_schema = oai_dc()
        standalone = etree.ElementTree(copy.deepcopy(record))
        assert dc_schema.validate(standalone), str(dc_schema.error_log)
    return root
