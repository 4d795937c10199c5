"""The local web page for policy teams (``station-sim app``): compare coverage models at
one station and national programmes for France without writing YAML.

The page (:mod:`sim.app.page`, a Streamlit script) holds no simulation logic: it turns
the form's inputs into scenario overrides (:mod:`sim.app.request`), runs them through
the Python API's pipeline (:mod:`sim.app.results`) and shows the stored tables.
Streamlit is the optional extra ``app``: ``pip install -e ".[app]"``.
"""
