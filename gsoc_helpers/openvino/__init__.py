"""Everything that runs through OpenVINO: compilation (f32 / default precision, cached), CPU ISA names, classifier
and generator conversion, the generator runner, the teacher's sampling backends.  Importing this package is cheap:
OpenVINO and torch are imported by the functions that need them."""

from __future__ import annotations
