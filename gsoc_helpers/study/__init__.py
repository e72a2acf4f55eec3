"""The calibration study: its protocol (:mod:`.splits`), statistics (:mod:`.stats`), cell store (:mod:`.cells`),
one engine with one spec per kind of study (:mod:`.engine`, :mod:`.specs`), tables (:mod:`.tables`) and the
answer generated from the results files (:mod:`.answer`)."""
