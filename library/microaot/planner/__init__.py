"""Static memory planner: every activation gets a fixed offset in one workspace."""

from microaot.planner.plan import Buffer, MemoryPlan, TensorLocation, plan_memory

__all__ = ["Buffer", "MemoryPlan", "TensorLocation", "plan_memory"]
