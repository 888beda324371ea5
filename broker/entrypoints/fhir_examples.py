"""UK Core resources for the FHIR endpoints' OpenAPI examples: the hand-written test
resources (tests/fhir_r4/resources), synthetic people with NHS numbers from the 999 test
range. tests/unit/test_openapi_examples.py maps each through the real FHIR mapping."""

from typing import Any

ENCOUNTER: dict[str, Any] = {
    "resourceType": "Encounter",
    "id": "ed-2026-114523",
    "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Encounter"]},
    "contained": [
        {
            "resourceType": "Patient",
            "id": "patient",
            "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"]},
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000298"}],
            "name": [{"use": "official", "family": "Carter", "given": ["Noah"]}],
            "birthDate": "2026-06-14",
        },
        {
            "resourceType": "RelatedPerson",
            "id": "escort",
            "meta": {
                "profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-RelatedPerson"]
            },
            "patient": {"reference": "#patient"},
            "relationship": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                            "code": "FTH",
                            "display": "father",
                        }
                    ]
                }
            ],
        },
    ],
    "identifier": [
        {"system": "https://fhir.acute-demo.nhs.uk/Id/ed-attendance", "value": "ED-2026-114523"}
    ],
    "status": "finished",
    "class": {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "EMER",
        "display": "emergency",
    },
    "type": [
        {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "4525004",
                    "display": "Emergency department patient visit",
                }
            ]
        }
    ],
    "subject": {
        "reference": "#patient",
        "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000298"},
    },
    "participant": [
        {
            "type": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "code": "ESC",
                            "display": "escort",
                        }
                    ]
                }
            ],
            "individual": {"reference": "#escort"},
        }
    ],
    "period": {"start": "2026-11-28T19:42:00+00:00", "end": "2026-11-28T23:10:00+00:00"},
    "reasonCode": [
        {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "125667009", "display": "Contusion"}
            ],
            "text": "Bruising to left forearm",
        }
    ],
    "serviceProvider": {
        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RDE"},
        "display": "Demo General Hospital NHS Trust",
    },
}

APPOINTMENT: dict[str, Any] = {
    "resourceType": "Appointment",
    "id": "opa-7781203",
    "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Appointment"]},
    "identifier": [
        {
            "system": "https://fhir.acute-demo.nhs.uk/Id/outpatient-appointment",
            "value": "OPA-7781203",
        }
    ],
    "status": "noshow",
    "serviceType": [
        {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "708946005",
                    "display": "Community paediatric service",
                }
            ],
            "text": "Community paediatrics",
        }
    ],
    "start": "2026-11-24T10:30:00+00:00",
    "end": "2026-11-24T11:00:00+00:00",
    "participant": [
        {
            "actor": {
                "reference": "Patient/9990000158",
                "type": "Patient",
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/nhs-number",
                    "value": "9990000158",
                },
            },
            "status": "accepted",
        },
        {
            "actor": {
                "reference": "Practitioner/paed-consultant-17",
                "type": "Practitioner",
                "display": "Community paediatrician",
            },
            "status": "accepted",
        },
    ],
}

BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "id": "ed-feed-2026-11-29-0001",
    "meta": {"lastUpdated": "2026-11-29T08:00:00+00:00"},
    "type": "transaction",
    "entry": [
        {
            "fullUrl": "urn:uuid:2f0c8a53-7e1b-4d8e-9b0e-8f7c3f1d2a11",
            "resource": {
                "resourceType": "Patient",
                "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"]},
                "identifier": [
                    {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}
                ],
                "name": [{"family": "Carter", "given": ["Jess"]}],
                "birthDate": "1995-03-02",
            },
            "request": {"method": "POST", "url": "Patient"},
        },
        {
            "fullUrl": "urn:uuid:6c1d4e2a-93f0-4b55-a0d7-1e2f3a4b5c6d",
            "resource": {
                "resourceType": "Encounter",
                "meta": {
                    "profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Encounter"]
                },
                "identifier": [
                    {
                        "system": "https://fhir.acute-demo.nhs.uk/Id/ed-attendance",
                        "value": "ED-2026-114601",
                    }
                ],
                "status": "in-progress",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "EMER",
                    "display": "emergency",
                },
                "subject": {"reference": "urn:uuid:2f0c8a53-7e1b-4d8e-9b0e-8f7c3f1d2a11"},
                "period": {"start": "2026-11-29T02:15:00+00:00"},
                "reasonCode": [
                    {
                        "coding": [
                            {
                                "system": "http://snomed.info/sct",
                                "code": "59274003",
                                "display": "Intentional drug overdose",
                            }
                        ]
                    }
                ],
            },
            "request": {"method": "POST", "url": "Encounter"},
        },
        {
            "fullUrl": "urn:uuid:0b9e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
            "resource": {
                "resourceType": "Appointment",
                "meta": {
                    "profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Appointment"]
                },
                "identifier": [
                    {
                        "system": "https://fhir.acute-demo.nhs.uk/Id/outpatient-appointment",
                        "value": "OPA-7782040",
                    }
                ],
                "status": "fulfilled",
                "serviceType": [{"text": "Community paediatrics"}],
                "start": "2026-11-27T09:15:00+00:00",
                "participant": [
                    {
                        "actor": {
                            "type": "Patient",
                            "identifier": {
                                "system": "https://fhir.nhs.uk/Id/nhs-number",
                                "value": "9990000158",
                            },
                        },
                        "status": "accepted",
                    }
                ],
            },
            "request": {"method": "POST", "url": "Appointment"},
        },
    ],
}
