"""The columns known once everyone is computed, worked out beside the first writes.

Once every person is computed, a full analysis still has to choose and fit the purchase
models, write each person's predictions and the risk they confirm into their row (the
late columns, :data:`~greenloop.store.analytics_repo.LATE_COLUMNS`), and take each row's
digest to compare it with the stored one. That reads only the computed persons and
takes seconds on a large store: a first analysis backtests every model (about 4 s on
200,000 profiles), a day's run predicts everyone with the kept choice (about 1.5 s),
and the digests take about 1 s more. What needs none of it (the identity tables, the
tier history, the carry-over fingerprints) takes about as long to write. With a second
CPU the two run side by side (:class:`LateAside`).

A thread would not do: the fit holds the GIL most of the time (beside a Python loop in
another thread, a 3.8 s fit and the loop together took 7.0 s where one after the other
took 7.5 s). The forked process sends back, per person, the late columns as text (which
parses back to the same ``Decimal``) and the row digest.

If the forked process fails, the parent works them out again itself, so an error
surfaces as the one-process path raises it.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from greenloop.analytics.outcome import Outcome
from greenloop.analytics.per_person import cpus
from greenloop.analytics.predict import fit_predictions
from greenloop.domain.risk import confirmed_by_model
from greenloop.process.forked import Forked, can_fork
from greenloop.store.analytics_repo import row_hash

if TYPE_CHECKING:
    from greenloop.analytics.options import AnalyzeOptions
    from greenloop.domain.predictions import CustomerSummary

__all__ = ["FORK_MIN_PERSONS", "Late", "LateAside", "work_out_late"]

# Below this many persons the fit and the digests take well under a second, less than
# forking a large process costs.
FORK_MIN_PERSONS = 40_000


class Late(NamedTuple):
    """What :func:`work_out_late` gives, besides the rows it writes."""

    summary: dict[str, Any]  # the run log's account of the predictions
    digests: list[str] | None  # per computed person: row_hash of the finished row


def work_out_late(
    results: Sequence[Outcome],
    summaries: Mapping[str, CustomerSummary],
    options: AnalyzeOptions,
    last_choice: Mapping[str, Any] | None,
    *,
    digests: bool,
) -> Late:
    """The predictions fitted and written into ``results``' rows, with the risk they
    confirm; with ``digests``, each finished row's digest as well."""
    fitted = fit_predictions(summaries, options, last_choice)
    columns = fitted.columns
    confirm = bool(fitted.summary.get("fitted"))
    below = options.at_risk_expected_below
    for result in results:
        row = result.row
        found = columns.get(row["id"])
        if found is not None:
            row["p_alive"], row["expected_purchases_90d"], row["predicted_value_12m"] = found
        if confirm:
            row["risk"] = confirmed_by_model(row["risk"], row.get("expected_purchases_90d"), below)
    hashed = [row_hash(r.row, r.digest) for r in results] if digests else None
    return Late(fitted.summary, hashed)


# A row's late columns as sent between the processes: the risk, then each prediction as
# its Decimal's text. A Decimal pickles as a call that rebuilds it (124,000 persons'
# predictions took 1.05 s to pickle that way, 0.17 s as text); the text parses back to
# the same value and exponent.
Sent = tuple[str | None, str | None, str | None, str | None]


def _sent(row: Mapping[str, Any]) -> Sent:
    alive, expected, value = (
        row["p_alive"],
        row["expected_purchases_90d"],
        row["predicted_value_12m"],
    )
    return (
        row["risk"],
        None if alive is None else str(alive),
        None if expected is None else str(expected),
        None if value is None else str(value),
    )


def _write_sent(results: Sequence[Outcome], sent: Sequence[Sent]) -> None:
    for result, (risk, alive, expected, value) in zip(results, sent, strict=True):
        row = result.row
        row["risk"] = risk
        row["p_alive"] = None if alive is None else Decimal(alive)
        row["expected_purchases_90d"] = None if expected is None else Decimal(expected)
        row["predicted_value_12m"] = None if value is None else Decimal(value)


class LateAside:
    """:func:`work_out_late` (with digests) started in a forked process when worth it
    (``aside``, a second CPU, enough persons); :meth:`result` gives it, from that process
    or worked out here."""

    def __init__(
        self,
        results: Sequence[Outcome],
        summaries: Mapping[str, CustomerSummary],
        options: AnalyzeOptions,
        last_choice: Mapping[str, Any] | None,
        *,
        aside: bool,
    ) -> None:
        self._results = results
        self._inputs = (results, summaries, options, last_choice)
        self._digests = aside
        self._worker: Forked | None = None
        if not aside or len(results) < FORK_MIN_PERSONS or not can_fork(cpus()):
            return
        if options.predictions:
            # Imported before the fork: the parent needs them anyway if the work must be
            # done again here, and SciPy's import would otherwise be paid in the child.
            import greenloop.domain.prediction_models  # noqa: F401

        self._worker = Forked(self._work_and_send)

    @property
    def forked(self) -> bool:
        return self._worker is not None

    def result(self) -> Late:
        """The late columns, written into the results' rows: received from the forked
        process, or worked out here when none was started or it failed."""
        if self._worker is not None:
            received = self._received(self._worker)
            if received is not None:
                return received
        return work_out_late(*self._inputs, digests=self._digests)

    def close(self) -> None:
        """Stops the forked process if its work was never taken (a later step failed)."""
        if self._worker is not None:
            self._worker.close()

    def _received(self, worker: Forked) -> Late | None:
        try:
            packed = worker.receive()
        except EOFError:
            return None
        finally:
            worker.done()
        summary, sent, digests = pickle.loads(packed)  # noqa: S301 (our own fork's)
        _write_sent(self._results, sent)
        return Late(summary, digests)

    def _work_and_send(self, send: Any) -> None:
        late = work_out_late(*self._inputs, digests=True)
        packed = (late.summary, [_sent(r.row) for r in self._results], late.digests)
        send.send_bytes(pickle.dumps(packed, pickle.HIGHEST_PROTOCOL))
        send.close()
