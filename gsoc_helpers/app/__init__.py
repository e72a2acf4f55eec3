"""The web app: the generation panel (:mod:`.widgets`), the Voilà server that serves it as a page (:mod:`.server`,
``app.ipynb``; ``gsoc-helpers app``) and the guard in front of it (:mod:`.guard`)."""
