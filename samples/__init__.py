"""The bundled sample inputs and the generators of known test data.

Data: a real speech recording, a face video, a transcript and simulated physiology (what
`make run` analyses). Generators, used by the services' unit tests and by training, never by
a service (no image copies this folder): `synthetic_face` draws known movements onto a real
photograph with the vision service's own head model, `simulate_physiology` makes
comparison-question examinations with known responses. This package sits above the services
and below models in the import graph (tests/test_layers.py).
"""
