"""placeholder"""


def run(topo, context, progress):
    raise NotImplementedError
