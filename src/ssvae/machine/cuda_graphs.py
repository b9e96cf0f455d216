"""The whole training step recorded once as a CUDA graph and replayed (issue 22, item 2).

A step (`step.DeviceStep`, `stacked.StackedStep`) reads everything that changes between steps from device tensors
that stay the same objects (batch indices in buffers, the step counter, a tensor learning rate, the statistics'
sums), so its hundreds of kernel launches can be recorded once and replayed as one. The first `EAGER_STEPS`
steps of a run (or after anything replaced those tensors, such as loading a checkpoint) run eagerly and are part
of its trajectory; they create Adam's state and the sums the graph then updates in place. The run's seeded
generators are registered with the graph, so replayed steps draw the noise an eager step would from the same
state and checkpoints resume exactly. Before a graph is trusted, one replay is checked against one eager step
from the same state; if capture or check fails, one warning, and the run goes on eagerly with nothing lost.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Protocol

import torch
from torch import Tensor

from ..errors import SSVAEError, warn

GRAPH_MODES = ("auto", "on", "off")
EAGER_STEPS = 3  # eager steps before a capture, as PyTorch's whole-network example warms up

Replay = Callable[[], None]
Capture = Callable[[Callable[[], None], list[torch.Generator]], Replay]


class Step(Protocol):
    """What a capturable training step provides (`step.DeviceStep`, `stacked.StackedStep`)."""

    def begin_epoch(self, *indices) -> None: ...
    def zero_grad(self, set_to_none: bool = True) -> None: ...
    def device_part(self) -> None: ...
    def host_part(self) -> None: ...
    def __call__(self) -> None: ...
    def generators(self) -> list[torch.Generator]: ...
    def state_tensors(self) -> list[Tensor]: ...


def graphs_wanted(mode: str, device: torch.device) -> bool:
    """auto: on for CUDA; on: asked for, which only a CUDA device can do."""
    if mode == "on" and device.type != "cuda":
        raise SSVAEError(f"--cuda-graphs on needs a CUDA GPU; on a {device.type.upper()} use auto or off")
    return mode == "on" or (mode == "auto" and device.type == "cuda")


def cuda_capture(fn: Callable[[], None], generators: list[torch.Generator]) -> Replay:
    """Record `fn`'s kernels as one CUDA graph (autocast's weight cache off: a graph may not keep its casts)."""
    graph = torch.cuda.CUDAGraph()
    for gen in generators:
        graph.register_generator_state(gen)
    cache = torch.is_autocast_cache_enabled()
    torch.set_autocast_cache_enabled(False)
    try:
        with torch.cuda.graph(graph):
            fn()
    finally:
        torch.set_autocast_cache_enabled(cache)
    return graph.replay


def side_stream(device: torch.device):
    """Eager steps before a capture run on a side stream on CUDA (as PyTorch asks), in place elsewhere."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    return _on_stream(stream, device)


@contextlib.contextmanager
def _on_stream(stream, device):
    with torch.cuda.stream(stream):
        yield
    torch.cuda.current_stream(device).wait_stream(stream)


class Snapshot:
    """Copies of a step's state tensors and generator states, to put back in place (the tensors stay the
    same objects, which a captured graph holds on to)."""

    def __init__(self, step: Step):
        self.tensors = [t.detach().clone() for t in step.state_tensors()]
        self.rng = [g.get_state() for g in step.generators()]

    def restore(self, step: Step) -> None:
        with torch.no_grad():
            for t, saved in zip(step.state_tensors(), self.tensors):
                t.copy_(saved)
        for g, state in zip(step.generators(), self.rng):
            g.set_state(state)

    def differs(self, other: "Snapshot") -> str | None:
        """None when both hold the same bits; else where they first differ."""
        for i, (a, b) in enumerate(zip(self.tensors, other.tensors)):
            if not torch.equal(a, b):
                gap = float((a.double() - b.double()).abs().max())
                return f"state tensor {i} of {len(self.tensors)} (max |diff| {gap:.3g})"
        for i, (a, b) in enumerate(zip(self.rng, other.rng)):
            if not torch.equal(a, b):
                return f"generator {i}"
        return None


class GraphedStep:
    """`step`, replayed from one captured graph once `EAGER_STEPS` eager steps have run; `capture` records a
    function (`cuda_capture` on a GPU; the tests hand in others). The same calls as the step it wraps."""

    def __init__(self, step: Step, capture: Capture | None = None, device: torch.device | None = None):
        self.step, self.capture, self.device = step, capture or cuda_capture, device or torch.device("cpu")
        self.replay: Replay | None = None
        self.failed, self.eager_steps, self.held = False, 0, []
        self.captures = self.replays = 0  # graphs trusted, steps replayed (the GPU check and the tests read them)

    def begin_epoch(self, *indices) -> None:
        self.step.begin_epoch(*indices)
        if self.replay is not None and not self._holds_the_same():  # a tensor the graph reads was replaced
            self.replay, self.held, self.eager_steps = None, [], 0

    def __call__(self) -> None:
        if self.replay is not None:
            self.replay()
            self.replays += 1
            self.step.host_part()
        elif self.failed or self.eager_steps < EAGER_STEPS:
            with side_stream(self.device) if not self.failed else contextlib.nullcontext():
                self.step()
            self.eager_steps += 1
        else:
            self._capture_checked()

    def _holds_the_same(self) -> bool:
        now = self.step.state_tensors()
        return len(now) == len(self.held) and all(a is b for a, b in zip(now, self.held))

    def _capture_checked(self) -> None:
        """Capture, then one replay against one eager step from the same state; that step is taken either way.

        The captured work zeroes the gradients in place rather than dropping them: they stay the tensors the graph
        writes (0 + g is g, so the numbers are an eager step's), and the graph keeps every tensor it reads alive
        (`held`), since a replay writes to their memory whoever owns it by then."""
        step, before = self.step, Snapshot(self.step)

        def work() -> None:
            step.zero_grad(set_to_none=False)
            step.device_part()

        try:
            replay = self.capture(work, step.generators())
            before.restore(step)  # a capture may run what it records (the tests' capture does); a GPU's does not
            work()
            eager = Snapshot(step)
            before.restore(step)
            replay()
            where = Snapshot(step).differs(eager)
            if where is not None:
                raise RuntimeError(f"a replay differs from an eager step at {where}")
        except Exception as e:  # capture raises many kinds (CUDA, autograd, an op that syncs with the host)
            self.failed = True
            before.restore(step)
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
            warn(f"CUDA graph capture failed ({type(e).__name__}: {first}); training goes on without --cuda-graphs")
            step()
            return
        self.replay, self.held = replay, step.state_tensors()
        self.captures += 1
        step.host_part()


def graphed_if_asked(step: Step, mode: str, device: torch.device) -> Step:
    """The step captured as a CUDA graph where `--cuda-graphs` and the device say so, else the step itself."""
    return GraphedStep(step, device=device) if graphs_wanted(mode, device) else step
