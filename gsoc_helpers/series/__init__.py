"""The notebook series' machinery: run sizes per profile and scale (:mod:`.profiles`), the headless runner behind
``gsoc-helpers demo`` (:mod:`.notebooks`) and the executed copies in ``docs/notebooks/`` (:mod:`.rendered`)."""
