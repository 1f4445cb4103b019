"""Supervisory authorities (GDPR Art. 51) by controller country, used as the spec's default.

Each entry is the national authority that receives complaints (Art. 77). Germany has one
authority per Land for private companies besides the federal BfDI: a German controller should
name its Land authority in the spec's ``[authority]`` table; the BfDI default is a valid
authority to complain to, not necessarily the competent one.
"""

from __future__ import annotations

from typing import TypedDict


class AuthorityData(TypedDict):
    """The fields of a spec ``Authority``: name, postal address, https website."""

    name: str
    address: str
    website: str


AUTHORITIES: dict[str, AuthorityData] = {
    "FR": {
        "name": "Commission nationale de l'informatique et des libertés (CNIL)",
        "address": "3 place de Fontenoy, TSA 80715, 75334 Paris Cedex 07, France",
        "website": "https://www.cnil.fr",
    },
    "DE": {
        "name": "Bundesbeauftragte für den Datenschutz und die Informationsfreiheit (BfDI)",
        "address": "Graurheindorfer Straße 153, 53117 Bonn, Deutschland",
        "website": "https://www.bfdi.bund.de",
    },
    "ES": {
        "name": "Agencia Española de Protección de Datos (AEPD)",
        "address": "C/ Jorge Juan 6, 28001 Madrid, España",
        "website": "https://www.aepd.es",
    },
    "IT": {
        "name": "Garante per la protezione dei dati personali",
        "address": "Piazza Venezia 11, 00187 Roma, Italia",
        "website": "https://www.garanteprivacy.it",
    },
    "IE": {
        "name": "Data Protection Commission",
        "address": "21 Fitzwilliam Square South, Dublin 2, D02 RD28, Ireland",
        "website": "https://www.dataprotection.ie",
    },
    "BE": {
        "name": "Autorité de protection des données / Gegevensbeschermingsautoriteit",
        "address": "Rue de la Presse 35 / Drukpersstraat 35, 1000 Bruxelles / Brussel, Belgique",
        "website": "https://www.autoriteprotectiondonnees.be",
    },
    "NL": {
        "name": "Autoriteit Persoonsgegevens",
        "address": "Postbus 93374, 2509 AJ Den Haag, Nederland",
        "website": "https://www.autoriteitpersoonsgegevens.nl",
    },
    "LU": {
        "name": "Commission nationale pour la protection des données (CNPD)",
        "address": "15, Boulevard du Jazz, L-4370 Belvaux, Luxembourg",
        "website": "https://cnpd.public.lu",
    },
}
