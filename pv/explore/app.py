"""``pvmon serve``: the interactive explorer (Plotly Dash) over the store's files.

Pick any drug (search-as-you-type over every ingredient in cases/drugs.parquet) and any PT,
event group or receptor domain; see its 2×2, every measure with its interval and flag, and the
cumulative trend and the case line listing; filters recompute through pv.explore.analysis (the signal engine's own
functions). Read-only, except the triage records a user sets here (pv.triage).

Rule ``serve-loopback`` (default 127.0.0.1): the app has no login of its own; serving on any
other address belongs behind a reverse proxy with authentication (README, docker-compose.yml).
Text from data reaches the page only as Dash component text (React escapes it), never as HTML.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component

from pv.config import Home
from pv.errors import PvError
from pv.explore.analysis import Explorer, Filters
from pv.triage import STATUSES, history_table, set_status

MAX_OPTIONS = 60  # drugs offered per keystroke
MAX_LISTING = 500  # listing rows shown (the count says how many there are)
MEASURES = [  # (label, point, low, high, flag) column names of the signal table
    ("PRR", "prr", "prr_lo", "prr_hi", "flag_evans"),
    ("ROR", "ror", "ror_lo", "ror_hi", "flag_ror025"),
    ("IC", "ic", "ic025", "ic975", "flag_ic025"),
    ("EBGM", "ebgm", "eb05", "eb95", "flag_eb05"),
]
FLAG_NAMES = {"flag_evans": "Evans (PRR ≥ 2, χ² ≥ 4, a ≥ 3)", "flag_ror025": "ROR025 > 1",
              "flag_ic025": "IC025 > 0", "flag_eb05": "EB05 ≥ 2"}
STYLE = {"font-family": "system-ui, sans-serif", "font-size": "14px", "margin": "12px 20px"}
CELL = {"border": "1px solid #ccc", "padding": "3px 8px", "text-align": "left"}
NUMBER = {**CELL, "text-align": "right"}
ROLE_OPTIONS = [{"label": "PS", "value": "ps"}, {"label": "PS+SS", "value": "ps+ss"},
                {"label": "any (PS, SS, C, I)", "value": "any"}]  # the engine's suspect-roles settings


def _num(value, id: str | None = None, digits: int = 4) -> html.Td:
    """A number cell: rounded text, the exact value in data-value (what a test or a copy reads)."""
    text = "-" if value is None else (f"{value:,}" if isinstance(value, int) else f"{value:.{digits}g}")
    return html.Td(text, style=NUMBER, **({"id": id} if id else {}), **{"data-value": "" if value is None else repr(value)})


def _table(id: str, header: list[str], rows: list[list]) -> html.Table:
    head = html.Tr([html.Th(h, style=CELL) for h in header])
    body = [html.Tr([c if isinstance(c, Component) else html.Td(str(c), style=CELL) for c in r]) for r in rows]
    return html.Table([html.Thead(head), html.Tbody(body)], id=id, style={"border-collapse": "collapse"})


def _labelled(label: str, component, width: str = "180px") -> html.Div:
    return html.Div([html.Label(label, style={"font-size": "12px", "color": "#555"}), component],
                    style={"display": "inline-block", "vertical-align": "top", "width": width, "margin-right": "10px"})


def layout(ex: Explorer) -> html.Div:
    quarters = ex.choices("quarter")
    multi = lambda id, column: dcc.Dropdown(id=id, options=ex.choices(column), multi=True)  # noqa: E731
    return html.Div([
        html.H2("pvmon explorer"),
        html.P(f"Store {ex.home.root} - signals run {ex.settings.run_id or '(none)'}, suspect roles "
               f"{ex.settings.roles}, EBGM with that run's prior. Read-only except signal status."),
        html.Div([
            _labelled("drug (type to search)", dcc.Dropdown(id="drug", options=[], searchable=True), "260px"),
            _labelled("level", dcc.RadioItems(id="level", options=["pt", "group", "domain"], value="pt", inline=True), "230px"),
            _labelled("event", dcc.Dropdown(id="event", options=[], searchable=True), "320px"),
        ]),
        html.Div([
            _labelled("from quarter", dcc.Dropdown(id="q-first", options=quarters), "130px"),
            _labelled("to quarter", dcc.Dropdown(id="q-last", options=quarters), "130px"),
            _labelled("sex", dcc.Checklist(id="sex", options=ex.choices("sex"), value=[], inline=True), "120px"),
            _labelled("age band", multi("age", "age_band")),
            _labelled("country", multi("country", "country"), "140px"),
            _labelled("reporter", multi("reporter", "reporter"), "140px"),
            _labelled("seriousness", dcc.RadioItems(id="serious", options=["any", "serious", "non-serious"],
                                                    value="any", inline=True), "240px"),
        ], style={"margin-top": "8px"}),
        html.Div([
            _labelled("background", dcc.RadioItems(id="background", value="all", inline=True, options=[
                {"label": "all reports", "value": "all"}, {"label": "indication", "value": "indication"},
                {"label": "active comparator", "value": "comparator"}]), "420px"),
            _labelled("indication", dcc.Dropdown(id="indication", options=ex.choices("indication"))),
            _labelled("comparator", dcc.Dropdown(id="comparator", options=[], searchable=True), "220px"),
            _labelled("suspect roles (which drug rows count as the drug)", dcc.RadioItems(
                id="roles", value=ex.settings.roles, inline=True, options=ROLE_OPTIONS), "330px"),
        ], style={"margin-top": "8px"}),
        html.Div(id="result", style={"margin-top": "14px"}),
        html.H3("Signal status"),
        html.Div([
            _labelled("status", dcc.Dropdown(id="triage-status", options=list(STATUSES)), "190px"),
            _labelled("user", dcc.Input(id="triage-user", type="text", placeholder="your name"), "160px"),
            _labelled("comment", dcc.Textarea(id="triage-note", style={"width": "400px", "height": "40px"}), "420px"),
            html.Button("Record status", id="triage-save", n_clicks=0),
        ]),
        html.Div(id="triage-out", style={"margin-top": "6px"}),
        html.Div(id="triage-history", style={"margin-top": "6px"}),
    ], style=STYLE)


def filters_of(run_roles: str, first, last, sex, age, country, reporter, serious, background, indication, comparator,
               roles) -> Filters:
    """The app's filter values as Filters (the run's suspect roles stand as the default, None)."""
    return Filters(first=first, last=last, sex=tuple(sorted(sex or ())), age_band=tuple(sorted(age or ())),
                   country=tuple(sorted(country or ())), reporter=tuple(sorted(reporter or ())),
                   serious={"serious": (True,), "non-serious": (False,)}.get(serious, ()),
                   background=background or "all", indication=indication, comparator=comparator,
                   roles=None if roles in (None, run_roles) else roles)


def result_block(ex: Explorer, drug: str, event: str, level: str, f: Filters) -> list:
    row = ex.row(drug, event, level, f)
    if row is None:
        return [html.P(f"No report with {drug} and {event} under these filters ({f.label()}).", id="no-row")]
    a, b, c, d = (row[k] for k in "abcd")
    two = _table("two-by-two", ["", f"{event}", "other events", "total"], [
        [html.Th(drug, style=CELL), _num(a, "cell-a"), _num(b, "cell-b"), _num(a + b)],
        [html.Th("other drugs" if f.background != "comparator" else f.comparator, style=CELL), _num(c, "cell-c"),
         _num(d, "cell-d"), _num(c + d)],
        [html.Th("total", style=CELL), _num(a + c), _num(b + d), _num(a + b + c + d)]])
    measures = _table("measures", ["measure", "value", "low", "high", "threshold", "flag"], [
        [label, _num(row[p], p), _num(row[lo], lo), _num(row[hi], hi), FLAG_NAMES[flag],
         html.Td("yes" if row[flag] else "no", id=flag, style={**CELL, "color": "#b00" if row[flag] else "#333"})]
        for label, p, lo, hi, flag in MEASURES])
    listing = ex.listing(drug, event, level, f)
    shown = listing.head(MAX_LISTING)
    trend = ex.trend(drug, event, level, f)
    return [
        html.P(f"{drug} × {event} ({level}); filters: {f.label()}; expected (stratified) {row['expected']:.4g}",
               id="result-title"),
        html.Div([html.Div([html.H4("2×2"), two], style={"display": "inline-block", "margin-right": "30px"}),
                  html.Div([html.H4("Measures (95% intervals; EBGM EB05-EB95)"), measures],
                           style={"display": "inline-block", "vertical-align": "top"})]),
        html.H4("Cumulative trend (all reports up to the end of each quarter)"),
        dcc.Graph(id="trend", figure=trend_figure(trend), config={"displaylogo": False}, style={"height": "320px"}),
        html.H4(f"Case line listing: {listing.height:,} reports (a)" +
                (f", first {MAX_LISTING} shown" if listing.height > MAX_LISTING else ""), id="listing-count"),
        _table("listing", shown.columns, [[("" if v is None else v) for v in r] for r in shown.iter_rows()]),
    ]


def trend_figure(trend: pl.DataFrame) -> go.Figure:
    """ROR025, IC025 and EB05 by quarter, with the flag thresholds (1, 0, 2) as dotted lines."""
    fig = go.Figure()
    for column, name, threshold, dash in (("ror_lo", "ROR025", 1, "dot"), ("ic025", "IC025", 0, "dash"),
                                          ("eb05", "EB05", 2, "dashdot")):
        fig.add_scatter(x=trend["quarter"].to_list(), y=trend[column].to_list(), name=name, mode="lines+markers")
        fig.add_hline(y=threshold, line_dash=dash, line_color="#999", annotation_text=f"{name} threshold")
    fig.update_layout(margin={"l": 40, "r": 20, "t": 10, "b": 30}, legend={"orientation": "h"}, template="plotly_white")
    return fig


def history_block(ex: Explorer, drug: str | None, event: str | None, level: str) -> list:
    if not drug or not event:
        return []
    frame = history_table(ex.home, drug).filter(pl.col("event").str.to_lowercase() == event.lower(),
                                                pl.col("level") == level)
    if frame.is_empty():
        return [html.P("Not triaged: status new.", id="status-now")]
    now = frame.row(0, named=True)
    return [html.P(f"Status now: {now['status']} (by {now['user']}, {now['at']})", id="status-now"),
            _table("history", ["when (UTC)", "status", "by", "comment"],
                   [[r["at"], r["status"], r["user"], r["note"]] for r in frame.iter_rows(named=True)])]


def create_app(home: Home) -> Dash:
    ex = Explorer(home)
    app = Dash(__name__, title="pvmon explorer", serve_locally=True)
    app.layout = layout(ex)
    filter_inputs = [Input(i, "value") for i in ("q-first", "q-last", "sex", "age", "country", "reporter", "serious",
                                                  "background", "indication", "comparator", "roles")]

    def search(text, chosen):
        text = (text or "").strip().lower()
        found = [d for d in ex.drugs if text in d][:MAX_OPTIONS] if text else ex.drugs[:MAX_OPTIONS]
        return found if not chosen or chosen in found else [chosen, *found]

    for id in ("drug", "comparator"):
        app.callback(Output(id, "options"), Input(id, "search_value"), State(id, "value"))(search)

    @app.callback(Output("event", "options"), Output("event", "value"), Input("drug", "value"), Input("level", "value"),
                  State("event", "value"))
    def events(drug, level, chosen):
        if not drug:
            return [], None
        table = ex.table(drug, level)
        names = table.sort("a", descending=True)["event"].to_list() if table.height else []
        return names, chosen if chosen in names else None

    @app.callback(Output("result", "children"), Input("drug", "value"), Input("event", "value"),
                  Input("level", "value"), *filter_inputs)
    def result(drug, event, level, *values):
        if not drug or not event:
            return html.P("Choose a drug and an event.")
        try:
            return result_block(ex, drug, event, level, filters_of(ex.settings.roles, *values))
        except PvError as err:
            return html.P(str(err), id="error", style={"color": "#b00"})

    @app.callback(Output("triage-out", "children"), Output("triage-history", "children"),
                  Input("triage-save", "n_clicks"), Input("drug", "value"), Input("event", "value"),
                  Input("level", "value"), State("triage-status", "value"), State("triage-user", "value"),
                  State("triage-note", "value"), prevent_initial_call=True)
    def triage(clicks, drug, event, level, status, user, note):
        from dash import ctx

        message = no_update
        if ctx.triggered_id == "triage-save":
            try:
                if not drug or not event:
                    raise PvError("triage: choose a drug and an event first")
                change = set_status(home, drug, event, status or "", note or "", user or "", level)
                message = html.P(f"Recorded: {change.status} for {change.drug} × {change.event}", id="triage-done")
            except PvError as err:
                message = html.P(str(err), id="triage-error", style={"color": "#b00"})
        return message, history_block(ex, drug, event, level)

    return app


def serve(home: Home, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Run the explorer until interrupted (Flask's server; put a proxy with auth in front off loopback).
    An address that cannot be bound is a one-line error before the store is read."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as err:
        raise PvError(f"serve: cannot listen on {host}:{port}: {err.strerror or err}") from None
    create_app(home).run(host=host, port=port, debug=False)
