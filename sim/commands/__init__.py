"""The top floor: the ``station-sim`` command line, one module per command family.

- :mod:`.cli`: the parser and ``main`` (exit status 2 for every user mistake);
- :mod:`.options`: the options shared by several commands, ``--set`` among them;
- :mod:`.execution`: running a plan or a study from the command line (backends,
  interruption, what a folder holds);
- :mod:`.experiment`, :mod:`.national`, :mod:`.sensitivity`, :mod:`.app`: the commands
  of each family;
- :mod:`.reproduce`: rerunning every committed study and checking it against its
  reference, the one place that runs every kind of study (``validate`` in :mod:`.cli`
  only recognises each kind of file).
"""
