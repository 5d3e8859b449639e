"""MarketModel: wiring and the step order, nothing else."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Mapping, MutableSequence, Sequence
from dataclasses import dataclass
from typing import TypeVar, Unpack, cast

import networkx as nx
import numpy as np

from abm.agents.arrivals import GroupArrivals
from abm.agents.base import Trader
from abm.agents.groups import GroupRole
from abm.agents.market_maker import MarketMaker
from abm.agents.registry import TAKER_KIND_ORDER, group_kind
from abm.contagion.engine import ContagionEngine
from abm.contagion.specs import ConfidenceChannel
from abm.fundamental import FundamentalProcess, build_fundamental
from abm.market.book_venue import BookVenue
from abm.market.exchange import Exchange
from abm.market.hedge import HedgeVenue
from abm.market.mark import MarkInputs, build_mark
from abm.market.venue import HEDGE, PlainVenue, Venue, VenueContext
from abm.market.venues import OPTIONAL_VENUES, SCENARIO_VENUES, VENUE_KINDS, scenario_venues
from abm.mesa_import import mesa
from abm.results.events import EventFields, EventKind
from abm.results.recorder import Recorder, RecorderDataCollector
from abm.scenario.schema import Scenario
from abm.shocks import ShockSchedule
from abm.states import Regime, Status

__all__ = ["TAKER_KIND_ORDER", "MarketModel", "TakerGroup"]

_V = TypeVar("_V")
# the recorded label of each state: a dict read, cheaper than the enum's .value descriptor
# once per row of every trader recorded
_STATE_LABELS: dict[Regime | Status, str] = {state: state.value for state in (*Regime, *Status)}


@dataclass(slots=True)
class TakerGroup:
    """One scenario group of traders that act only when they arrive."""

    name: str
    kind: str
    agents: Sequence[Trader]
    arrivals: GroupArrivals
    rng: np.random.Generator


class MarketModel(mesa.Model):
    """Market makers, informed and noise traders trading through one limit order book.

    The model is the agents' `abm.agents.base.Market` (they see it through that contract
    only). Agent groups are built through `abm.agents.registry.GROUP_KINDS` and venues
    through `abm.market.venues.VENUE_KINDS`, with no per-kind code here.

    Randomness: the run's root ``numpy.random.SeedSequence(seed)`` is spawned into
    six children: Mesa's generators (``model.rng``, ``model.random``: activation
    order), the fundamental process, the trader groups (one grandchild per group,
    in scenario order, used for that group's arrivals and decisions), the hedge venue,
    the network, and the other venues (one grandchild per entry of
    `abm.market.venues.SCENARIO_VENUES`). Changing one
    group's size or parameters therefore leaves the fundamental path, and every other
    group's random stream, unchanged: common random numbers across scenarios.

    Step ``n`` (``n = 1, 2, ...``; model time ``t = n * dt``) does, in this order:

    1. advance the fundamental value to time ``t``;
    2. apply scheduled shocks (`abm.shocks`: price gaps, volatility spikes), logging
       each gap and each market maker's exposure to it; open the step at every venue
       (``Venue.open_step``: the hedge venue draws its price);
    3. activate traders: orders whose good-till step has come are cancelled; every venue
       opens trading (``Venue.open_trading``: a halt of the book's circuit breaker,
       `abm.market.circuit_breaker`, that is over ends and its queued orders are submitted
       in arrival order); every market maker requotes, in
       random order; execution programs (``pov``) work their schedules, in scenario
       order; then the informed traders, the chartist-fundamentalist traders, the noise
       traders and the Paddrik et al. (2012) classes that arrive this step (one
       vectorised draw per group), kind by kind in that order, in random order within
       each kind. Each order goes to the book venue, which matches it at once, the
       exchange settling both sides of every fill (or, during a halt, the venue queues
       or rejects an order that would trade);
    4. risk and contagion (`abm.contagion.engine`): liquidations of defaulted market makers,
       margin calls, credit-line calls, default waves within the step (creditors
       written down), hot-potato inventory passing, confidence (market makers also
       manage their own regimes, rebalancing and hedging when they act in 3);
    5. commit the step's mark (the scenario's ``mark``, `abm.market.mark`) and record the
       ``market`` row (with that ``mark``) and the traders' ``agents`` rows, whose equity
       and pnl are at that mark and the hedge venue's price.

    Step 0 is recorded at construction: the state before any trading.

    Mesa conventions: ``model.step_index`` is the one accessor of the step counter; it reads
    (and, for tests that place the model at a step, writes) Mesa's own counter, which
    ``mesa.Model`` advances before each ``step()`` (``model.steps`` in Mesa 3, removed in 4.0,
    so nothing else reads it). ``model.running`` turns False once ``scenario.steps`` steps have
    run, so Mesa's ``run_model()`` returns with the same tables as :func:`abm.run`.
    ``model.datacollector`` offers the recorded ``market`` table to Mesa's plot components
    (`abm.results.recorder.RecorderDataCollector`).

    Args:
        scenario: The validated scenario.
        seed: Overrides ``scenario.seed`` if given.
    """

    def __init__(self, scenario: Scenario, *, seed: int | None = None) -> None:
        self.seed = scenario.seed if seed is None else seed
        root = np.random.SeedSequence(self.seed)
        # spawn children are indexed: adding one leaves the earlier streams unchanged
        seqs = root.spawn(6)
        mesa_seq, fundamental_seq, groups_seq, hedge_seq, network_seq, venues_seq = seqs
        super().__init__(rng=mesa_seq)
        self.scenario = scenario
        self.dt = scenario.dt
        self.tick_size = scenario.tick_size
        self.time = 0.0
        self.activations = 0  # trader actions so far: market-maker requotes plus arrivals
        self.recorder = Recorder()
        self.datacollector = RecorderDataCollector(self.recorder)
        self.exchange: Exchange[Trader] = Exchange(self.recorder)
        self._venues = self._build_venues(venues_seq, hedge_seq)
        self.book_venue: BookVenue = self._venue("book", BookVenue)
        self.book = self.book_venue.book
        self.hedge_venue: HedgeVenue = self._venue("hedge", HedgeVenue)
        # book volume up to the end of each step, and the fundamental at each step's end:
        # machine-number arrays (8 bytes a step, not a 32-byte Python object), since a long
        # run keeps them all
        self.cumulative_volume: MutableSequence[int] = array("q", [0])
        fund = scenario.fundamental
        self.fundamental: FundamentalProcess = build_fundamental(
            fund, np.random.default_rng(fundamental_seq), dt=scenario.dt
        )
        # its generator is its own: its normals are drawn in blocks, the same stream
        self.fundamental.draw_ahead()
        self.fundamental_history: MutableSequence[float] = array("d", [self.fundamental.value])
        self._expiries: dict[int, list[int]] = {}
        self.shocks = ShockSchedule(scenario.shocks)
        self._shocked = bool(scenario.shocks)  # else the step skips the schedule's look-ups
        for venue in self._venues:
            venue.open_step(0, self.fundamental.value)
        network = scenario.network
        self.confidence: ConfidenceChannel | None = (
            None if network is None else network.channels.confidence
        )
        self.market_makers: list[MarketMaker] = []
        self.takers: list[TakerGroup] = []
        self.executors: list[Trader] = []
        self._arrival_shocks: list[tuple[TakerGroup, str]] = []
        self._record_hooks: list[Callable[[], None]] = []
        self._build_groups(groups_seq)
        self.network = self._build_network(network_seq)
        self.contagion = ContagionEngine(
            spec=scenario.network,
            network=self.network,
            nodes=self.market_makers,
            exchange=self.exchange,
            shocks=self.shocks,
            rng=self.rng,
            log_event=self.log_event,
            market=self,
        )
        self._other_traders: list[Trader] = [a for g in self.takers for a in g.agents]
        self._other_traders.extend(self.executors)
        # whether any of them quotes (only market makers do today): else no quotes() per row
        self._others_quote = any(
            kind.quotes is not Trader.quotes for kind in {type(t) for t in self._other_traders}
        )
        self._stride = scenario.record.other_agents_stride
        self._depth_levels = scenario.record.depth_levels
        self._depth_stride = scenario.record.depth_stride
        self._mark_method = build_mark(scenario.mark)
        self._tape_start = 0  # first tape entry of the current step
        self._mark_key: tuple[object, ...] | None = None  # what _mark_inputs last read
        self._mark_inputs_now: MarkInputs | None = None
        self._mark_committed: float | None = None  # the recorded mark, until the next step
        mark = self.mark_price()
        for trader in self.exchange.traders.values():
            trader.initial_equity = trader.equity(mark=mark, hedge_mark=self.hedge_venue.price)
        self.initial_totals = self.totals()
        self._record(final=False)
        self.running = not self.finished

    @property
    def step_index(self) -> int:
        """Steps run so far: 0 at construction, ``n`` during and after step ``n``.

        The one place that reads Mesa's step counter (``mesa.Model.steps``, which Mesa 4.0
        removes): the engine, the agents and the dashboard read the step here.
        """
        return int(self.steps)

    @step_index.setter
    def step_index(self, value: int) -> None:
        self.steps = value

    def _build_network(self, seq: np.random.SeedSequence) -> nx.DiGraph:
        """The market makers' network (empty without a ``network`` section)."""
        spec = self.scenario.network
        if spec is None:
            graph = nx.DiGraph()
            graph.add_nodes_from(range(len(self.market_makers)))
            return graph
        from abm.contagion.graph import build_network, network_table_rows

        capital = [mm.cash for mm in self.market_makers]
        graph = build_network(spec, len(self.market_makers), capital, np.random.default_rng(seq))
        for source, target, exposure, capacity in network_table_rows(graph):
            self.recorder.network_edge(source, target, exposure, capacity)
        return graph

    def _build_venues(
        self, venues_seq: np.random.SeedSequence, hedge_seq: np.random.SeedSequence
    ) -> list[Venue]:
        """Build and attach the run's venues (`scenario_venues`), each with its own stream.

        Also lists those whose `Venue.close_trading` and `Venue.record` do something (not
        `PlainVenue`'s), the only ones the step calls them on.
        """
        listed = scenario_venues(self.scenario, always=SCENARIO_VENUES, optional=OPTIONAL_VENUES)
        names = [name for name, _ in listed]
        seeds = dict(zip(names, venues_seq.spawn(len(names)), strict=True))
        seeds["hedge"] = hedge_seq  # the hedge venue's stream predates the registry
        venues: list[Venue] = []
        for name, kind in listed:
            context = VenueContext(self.scenario, self.exchange, np.random.default_rng(seeds[name]))
            venue = VENUE_KINDS[kind](name, context)
            if name == "book" and isinstance(venue, BookVenue):
                self.exchange.attach_book(venue)
            else:
                self.exchange.attach(venue)
            venues.append(venue)
        self._closing_venues = [
            v for v in venues if type(v).close_trading is not PlainVenue.close_trading
        ]
        self._recording_venues = [v for v in venues if type(v).record is not PlainVenue.record]
        return venues

    def _venue(self, name: str, cls: type[_V]) -> _V:
        venue = self.exchange.venues[name]
        if not isinstance(venue, cls):
            raise TypeError(f"venue {name!r} is a {type(venue).__name__}, not a {cls.__name__}")
        return venue

    def _build_groups(self, groups_seq: np.random.SeedSequence) -> None:
        """Build every scenario group through its registered kind, in scenario order."""
        seqs = groups_seq.spawn(len(self.scenario.agents))
        takers: dict[str, list[TakerGroup]] = {kind: [] for kind in TAKER_KIND_ORDER}
        for (name, spec), seq in zip(self.scenario.agents.items(), seqs, strict=True):
            rng = np.random.default_rng(seq)
            kind = group_kind(spec.kind)
            built = kind.build(self, name, spec, rng)
            for trader in built.agents:
                self.exchange.register(trader)
            if built.on_record is not None:
                self._record_hooks.append(built.on_record)
            if kind.role is GroupRole.MARKET_MAKER:
                self.market_makers.extend(cast(Sequence[MarketMaker], built.agents))
            elif kind.role is GroupRole.EXECUTOR:
                self.executors.extend(built.agents)
            else:
                assert kind.arrival is not None, f"taker kind {spec.kind!r} has no arrival law"
                arrivals = GroupArrivals(kind.arrival(spec, self.dt), spec.count, self.dt)
                group = TakerGroup(name, spec.kind, built.agents, arrivals, rng)
                takers[spec.kind].append(group)
                if kind.arrival_shock is not None:
                    self._arrival_shocks.append((group, kind.arrival_shock))
        self._takers_by_kind = takers
        self._taker_kinds = [kind for kind in TAKER_KIND_ORDER if takers[kind]]  # in that order
        self.takers = [group for kind in TAKER_KIND_ORDER for group in takers[kind]]

    # ----- prices -----------------------------------------------------------------

    @property
    def fundamental_value(self) -> float:
        """The fundamental value now (`abm.agents.base.Market.fundamental_value`)."""
        return self.fundamental.value

    def fundamental_volatility(self) -> float:
        """The fundamental process's volatility now (`abm.agents.base.Market`)."""
        return self.fundamental.volatility

    @property
    def hedge_price(self) -> float:
        """This step's hedge-instrument price (`abm.agents.base.Market.hedge_price`)."""
        return self.hedge_venue.price

    def mid_price(self) -> float | None:
        """Mid of the best bid and ask, or None unless both sides are quoted."""
        bid, ask = self.book.best_bid_ticks(), self.book.best_ask_ticks()
        if bid is None or ask is None:
            return None
        return (bid + ask) * 0.5 * self.tick_size

    def reference_price(self, kind: str) -> float:
        """The price a trader anchors on: ``"fundamental"``, ``"mid"`` or ``"last"``.

        ``"mid"`` falls back to the last trade price, then to the fundamental value,
        while one side of the book is empty; ``"last"`` (the last trade price) falls
        back to the mid, then to the fundamental, before the first trade.
        """
        if kind == "fundamental":
            return self.fundamental.value
        last = self.exchange.last_price_ticks
        if kind == "last" and last is not None:
            return last * self.tick_size
        mid = self.mid_price()
        if mid is not None:
            return mid
        last = self.exchange.last_price_ticks
        return last * self.tick_size if last is not None else self.fundamental.value

    def mark_price(self) -> float:
        """The price at which equity is marked now: the scenario's ``mark`` (`abm.market.mark`).

        During a step it reflects the book as it stands (margin calls and default waves
        re-read it after forced sales); between steps it is the mark recorded for the last
        step (the ``mark`` column of the ``market`` table).
        """
        if self._mark_committed is not None:
            return self._mark_committed
        return self._mark_method.value(self._mark_inputs())

    def _mark_inputs(self) -> MarkInputs:
        """What the mark methods see: fundamental, mid, last trade, this step's book trades.

        Read several times a step (risk, contagion, the record) while the book rarely moves
        in between: the inputs are rebuilt only when the fundamental, the touch or the tape
        has changed since the last read. The step's trades are summed only for a method
        that reads them (``uses_trades``: the VWAP mark); the others see 0 lots.
        """
        exchange, book = self.exchange, self.book
        last = exchange.last_price_ticks
        bid, ask = book.best_bid_ticks(), book.best_ask_ticks()
        fundamental = self.fundamental.value
        uses_trades = self._mark_method.uses_trades
        tape = exchange.tape_position if uses_trades else 0
        key = (self._tape_start, tape, bid, ask, last, fundamental)
        if key == self._mark_key and self._mark_inputs_now is not None:
            return self._mark_inputs_now
        tick = self.tick_size
        mid = None if bid is None or ask is None else (bid + ask) * 0.5 * tick
        last_price = None if last is None else last * tick
        step_qty, step_notional = 0, 0.0
        if uses_trades:
            step_trades = exchange.tape_since(self._tape_start)
            step_qty = sum(qty for _, _, qty in step_trades)
            step_notional = math.fsum(price * tick * qty for _, price, qty in step_trades)
        # positional: a frozen dataclass's keyword call costs a fifth more, once a step
        inputs = MarkInputs(fundamental, mid, last_price, step_qty, step_notional)
        self._mark_key, self._mark_inputs_now = key, inputs
        return inputs

    def release(self) -> None:
        """Let the garbage collector free this model once nothing else refers to it.

        Mesa 3.3 keeps every model alive through the class-level registry
        ``mesa.agent.Agent._ids`` (fixed upstream in 3.4.2; see PITFALLS.md). Call this
        when done with a model that will not create agents again: :func:`abm.run` does,
        so that many runs in one process do not accumulate.
        """
        mesa.agent.Agent._ids.pop(self, None)

    # ----- the step ---------------------------------------------------------------

    def _wrapped_step(self, *args: object, **kwargs: object) -> None:
        """Mesa's wrapper of `step`: count the step, then run it (``mesa.Model._wrapped_step``).

        Mesa 3.3's own wrapper also formats and logs a debug line every step (about a
        microsecond, a twentieth of a step of the benchmark runs); this one does what it
        does without the line. ``mesa.Model.__init__`` binds ``model.step`` to it.
        """
        self.steps += 1
        self._user_step(*args, **kwargs)

    def step(self) -> None:
        """Advance one step (the order is in the class docstring).

        ``mesa.Model`` wraps this method and counts the step before it runs; `step_index`
        reads that count.
        """
        step: int = self.steps  # `step_index` without the property call (an int already)
        self.time = step * self.dt
        exchange = self.exchange
        exchange.start_step(step, self.time)
        self._tape_start = exchange.tape_position
        self._mark_committed = None
        # 1. fundamental
        fundamental = self.fundamental
        previous = fundamental.value
        fundamental.step()
        # 2. shocks: gaps hit standing inventory before anyone can requote (a run without
        # scheduled shocks skips the schedule's look-ups: no gap, no window, nothing due)
        shocked = self._shocked
        gap = self.shocks.apply(step, fundamental, previous) if shocked else 0.0
        if gap:
            self.log_event(EventKind.PRICE_GAP, None, None, gap, fundamental=fundamental.value)
            for mm in self.market_makers:
                if mm.inventory or mm.hedge:
                    exposure = (mm.inventory + mm.hedge) * gap
                    self.log_event(
                        EventKind.GAP_EXPOSURE,
                        mm.unique_id,
                        None,
                        exposure,
                        net_delta=mm.inventory + mm.hedge,
                    )
        value = fundamental.value
        self.fundamental_history.append(value)
        venues = self._venues
        for venue in venues:
            venue.open_step(step, value)
        if shocked:
            self.contagion.apply_shocks(step)
        for group, shock in self._arrival_shocks:
            group.arrivals.intensity = self.shocks.window_multiplier(shock, step)
        # 3. traders: expired good-till orders leave first, then market makers requote
        if self._expiries:
            cancel = self.book_venue.cancel
            for order_id in self._expiries.pop(step, ()):
                cancel(order_id)
        for venue in venues:
            venue.open_trading(step)
        # Mesa's AgentSet.shuffle_do("step") over the market makers, without its weak references:
        # the same shuffle of the same list (the order they were added) by the same generator
        # (a list of fewer than two draws nothing to shuffle)
        makers = self.market_makers
        if len(makers) > 1:
            makers = makers.copy()
            self.random.shuffle(makers)
        for mm in makers:
            mm.step()
        self.activations += len(makers)
        for executor in self.executors:
            executor.step()
        for kind in self._taker_kinds:
            self._activate_takers(kind)
        for venue in self._closing_venues:  # venues with their own clock settle (AMM blocks)
            venue.close_trading(step)
        # 4. risk: liquidations, margin and credit calls, default waves, hot potato
        self.contagion.step()
        self.cumulative_volume.append(exchange.volume)
        # 5. record
        finished = step >= self.scenario.steps
        self._record(final=finished)
        self.running = not finished

    def _activate_takers(self, kind: str) -> None:
        """Wake this step's arrivals of the ``kind`` groups, in one random order."""
        groups = self._takers_by_kind[kind]
        if len(groups) == 1:  # the common case, without the (trader, rng, side) triples
            group = groups[0]
            rng, arrivals_law, agents = group.rng, group.arrivals, group.agents
            if not arrivals_law.per_side:  # no sides either: shuffle the indices themselves
                who = arrivals_law.draw_unsided(rng)
                if len(who) > 1:
                    self.rng.shuffle(who)  # the same swaps: they depend on the length only
                self.activations += len(who)
                for i in who:
                    agents[i].act(rng, None)  # type: ignore[attr-defined]
                return
            drawn = arrivals_law.draw(rng)
            if len(drawn) > 1:
                self.rng.shuffle(drawn)  # the swaps rng.permutation(len(drawn)) would draw
            self.activations += len(drawn)
            for i, side in drawn:
                agents[i].act(rng, side)  # type: ignore[attr-defined]
            return
        arrivals: list[tuple[Trader, np.random.Generator, bool | None]] = []
        for group in groups:
            rng = group.rng
            drawn = group.arrivals.draw(rng)
            if drawn:  # most steps of a rarely arriving group: no triples to build
                agents = group.agents
                arrivals.extend([(agents[i], rng, side) for i, side in drawn])
        if len(arrivals) > 1:
            self.rng.shuffle(arrivals)  # the swaps rng.permutation(len(arrivals)) would draw
        self.activations += len(arrivals)
        for trader, rng, side in arrivals:
            trader.act(rng, side)  # type: ignore[attr-defined]

    # ----- recording --------------------------------------------------------------

    def log_event(
        self,
        kind: EventKind,
        agent_id: int | None,
        counterparty: int | None,
        amount: float,
        **fields: Unpack[EventFields],
    ) -> None:
        """Append one row to the ``events`` table at the current step (`Recorder.event`)."""
        self.recorder.event(self.step_index, kind, agent_id, counterparty, amount, **fields)

    def schedule_expiry(self, order_id: int, step: int) -> None:
        """Cancel ``order_id`` at the start of step ``step``'s trading (good-till-step)."""
        self._expiries.setdefault(step, []).append(order_id)

    # ----- risk signals -----------------------------------------------------------

    def in_gap_window(self, before_steps: int, after_steps: int) -> bool:
        """Whether an announced gap is within ``[step - after_steps, step + before_steps]``."""
        return self.shocks.in_gap_window(self.step_index, before_steps, after_steps)

    def shock_multiplier(self, kind: str) -> float:
        """Product of the multipliers of the windowed shocks ``kind`` active now (1.0: none)."""
        return self.shocks.window_multiplier(kind, self.step_index)

    def _record(self, *, final: bool) -> None:
        mark = self._mark_method.commit(self._mark_inputs())
        self._mark_committed = mark
        book = self.book
        for hook in self._record_hooks:
            hook()
        bid, ask = book.best_bid(), book.best_ask()
        last = self.exchange.last_price_ticks
        step: int = self.steps
        self.recorder.market(
            step,
            self.time,
            self.fundamental.value,
            bid,
            ask,
            book.total_qty("buy"),
            book.total_qty("sell"),
            None if last is None else book.to_price(last),
            self.exchange.step_volume,
            self.hedge_venue.price,
            mark,
        )
        for venue in self._recording_venues:
            venue.record(step)
        if self.market_makers:
            self._record_traders(self.market_makers, step, mark)
        stride = self._stride
        if step == 0 or final or (stride is not None and step % stride == 0):
            self._record_traders(self._other_traders, step, mark, quoting=self._others_quote)
        levels = self._depth_levels
        if levels and step % self._depth_stride == 0:
            record_level = self.recorder.depth_level
            for side, book_side in (("bid", "buy"), ("ask", "sell")):
                for level, (price, qty) in enumerate(book.depth(book_side, levels), start=1):
                    record_level(step, side, level, price, qty)

    def _record_traders(
        self, traders: Sequence[Trader], step: int, mark: float, *, quoting: bool = True
    ) -> None:
        """One ``agents`` row per trader: equity and pnl at ``mark`` and the hedge price.

        ``quoting`` False says that none of ``traders`` quotes (`Trader.quotes` is theirs):
        their bid and ask are recorded as none without asking each one. Cash is read as
        `Trader.cash` defines it (``cash_ticks * tick_size``) without the property call.
        """
        hedge_mark = self.hedge_venue.price
        tick = self.tick_size
        record = self.recorder.agent
        label = _STATE_LABELS.__getitem__
        bid = ask = None
        for trader in traders:
            equity = trader.equity(mark=mark, hedge_mark=hedge_mark)
            if quoting:
                bid, ask = trader.quotes()
            inventory, hedge = trader.inventory, trader.hedge
            record(
                step,
                trader.unique_id,
                trader.kind,
                inventory,
                trader.cash_ticks * tick,
                equity,
                equity - trader.initial_equity,
                bid,
                ask,
                label(trader.regime),
                label(trader.status),
                trader.group,
                hedge,
                inventory + hedge,
            )

    # ----- invariants -------------------------------------------------------------

    def totals(self) -> tuple[int, int]:
        """Cash (tick units) and book inventory (lots), over all traders and venues.

        Both are conserved exactly, whatever trades happen.
        """
        traders = self.exchange.traders.values()
        outside = self.contagion.outside
        venues = sum(venue.cash_ticks for venue in self._venues)
        cash = sum(t.cash_ticks for t in traders) + venues + outside.cash_ticks
        held = sum(
            venue.position for venue in self._venues if venue.instrument.position == "inventory"
        )
        return cash, sum(t.inventory for t in traders) + outside.inventory + held

    def holdings_value(self, holdings: Mapping[str, int]) -> float:
        """Value now (price units) of positions in held instruments, summed over the venues.

        Each venue values its own instruments (`abm.market.venue.Venue.value_holdings`).
        """
        return sum(venue.value_holdings(holdings) for venue in self._venues)

    def holdings_totals(self) -> dict[str, int]:
        """Each held instrument's positions summed over traders and venues: each is conserved.

        A venue that issues a held instrument holds minus what it issued, so every total is
        zero whatever trades happen (`abm.market.venue.Instrument.held`).
        """
        totals: dict[str, int] = {}
        held = [t.holdings for t in self.exchange.traders.values()]
        held.extend(venue.holdings for venue in self._venues)
        for holdings in held:
            for name, qty in holdings.items():
                totals[name] = totals.get(name, 0) + qty
        return totals

    def hedge_totals(self) -> int:
        """Hedge positions of all traders plus the venues': conserved (zero) exactly."""
        venues = sum(venue.position for venue in self._venues if venue.instrument is HEDGE)
        return sum(t.hedge for t in self.exchange.traders.values()) + venues

    @property
    def finished(self) -> bool:
        """True once the scenario's number of steps has run."""
        return self.step_index >= self.scenario.steps
