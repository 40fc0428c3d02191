"""Graph passes run between import and planning (validation, views/aliases, scratch requests)."""

from microaot.passes.check import check_graph
from microaot.passes.inplace import inplace_options
from microaot.passes.views import scratch_requests, state_requests, view_ops

__all__ = ["check_graph", "inplace_options", "scratch_requests", "state_requests", "view_ops"]
