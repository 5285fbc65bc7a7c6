"""Reading a format-2 plan file converts its typed markers on the text
(`planformat.placeholder_text`): the result must be what parsing and walking gives
(`placeholder_view`), for every placement of the markers, or the text path must step
aside (None) and the walk be used."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailinfra.planfile import MAX_JSON_DEPTH, PlanFileError, _depth, load_plan_file
from mailinfra.planformat import SECRET_SIG, SIG_KEY, UNKNOWN_SENTINEL, placeholder_text, placeholder_view

SECRET = {SIG_KEY: SECRET_SIG}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(max_size=8),
    st.sampled_from(
        [
            UNKNOWN_SENTINEL,
            f"x{UNKNOWN_SENTINEL}",
            f'"{UNKNOWN_SENTINEL}',
            f'id "{UNKNOWN_SENTINEL}',
            "[unknown]",
            "[secret]",
            SIG_KEY,
            '"{}[]\\',
        ]
    ),
)
values = st.recursive(
    st.one_of(scalars, st.just(SECRET), st.just({SIG_KEY: SECRET_SIG, "value": "plain"})),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=4), st.sampled_from([UNKNOWN_SENTINEL, SIG_KEY])), children, max_size=4),
    ),
    max_leaves=20,
)


def _slow(text: str) -> Any:
    return placeholder_view(json.loads(text))


@settings(max_examples=300, deadline=None)
@given(values, st.sampled_from([{}, {"indent": 1}, {"separators": (",", ":")}, {"ensure_ascii": False}]))
def test_the_text_path_gives_the_walk_or_steps_aside(value: Any, dump: dict[str, Any]) -> None:
    text = json.dumps(value, **dump)
    fast = placeholder_text(text)
    if fast is not None:
        assert json.loads(fast[0]) == _slow(text)


def test_markers_in_the_usual_places_take_the_text_path() -> None:
    doc = {"formatVersion": 2, "resources": [{"inputs": {"a": UNKNOWN_SENTINEL, "b": [SECRET, UNKNOWN_SENTINEL]}}]}
    fast = placeholder_text(json.dumps(doc))
    assert fast is not None and fast[1] == 3
    assert json.loads(fast[0]) == {
        "formatVersion": 2,
        "resources": [{"inputs": {"a": "[unknown]", "b": ["[secret]", "[unknown]"]}}],
    }


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({UNKNOWN_SENTINEL: 1, "a": UNKNOWN_SENTINEL}),  # a sentinel as a key is a key
        json.dumps({"a": {SIG_KEY: SECRET_SIG, "value": "plain"}}),  # a secret object with its value
        json.dumps({"a": UNKNOWN_SENTINEL[:4] + "\\u0036" + UNKNOWN_SENTINEL[5:]}).replace("\\\\u", "\\u"),  # escaped
        json.dumps({"a": "prefix " + UNKNOWN_SENTINEL}),
        json.dumps({"a": 'id "' + UNKNOWN_SENTINEL}),  # after an escaped quote: the tail of a string
    ],
)
def test_the_text_path_steps_aside_where_it_could_be_wrong(text: str) -> None:
    assert placeholder_text(text) is None


def _plan(inputs: dict[str, Any], version: Any = 2) -> dict[str, Any]:
    resource = {"urn": "urn:pulumi:s::p::aws:s3/bucket:Bucket::b", "type": "aws:s3/bucket:Bucket", "inputs": inputs}
    doc: dict[str, Any] = {"stack": "s", "project": "p", "resources": [resource], "outputs": {"o": UNKNOWN_SENTINEL}}
    if version is not None:
        doc = {"formatVersion": version, **doc}
    return doc


def test_a_format_2_file_reads_as_its_placeholder_view(tmp_path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(_plan({"a": UNKNOWN_SENTINEL, "s": SECRET, "k": {UNKNOWN_SENTINEL: 1}})))
    data = load_plan_file(str(path))
    assert data["resources"][0]["inputs"] == {"a": "[unknown]", "s": "[secret]", "k": {UNKNOWN_SENTINEL: 1}}
    assert data["outputs"] == {"o": "[unknown]"} and "formatVersion" not in data


def test_markers_in_an_unversioned_file_are_values(tmp_path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(_plan({"a": UNKNOWN_SENTINEL, "s": SECRET}, version=None)))
    data = load_plan_file(str(path))
    assert data["resources"][0]["inputs"] == {"a": UNKNOWN_SENTINEL, "s": SECRET}


def test_bad_json_is_reported_at_its_place_in_the_file(tmp_path) -> None:
    path = tmp_path / "plan.json"
    text = json.dumps(_plan({"a": UNKNOWN_SENTINEL, "b": UNKNOWN_SENTINEL}))
    path.write_text(text[:-1] + ",}")  # one line: a position after a marker would shift
    with pytest.raises(PlanFileError) as err:
        load_plan_file(str(path))
    assert f":1:{len(text) + 1}: not valid JSON" in str(err.value)


def test_depth_counts_the_secret_object_as_written(tmp_path) -> None:
    inner: Any = SECRET
    for _ in range(MAX_JSON_DEPTH - 4):  # root, resources, the resource, inputs: 4 levels
        inner = [inner]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(_plan({"deep": inner})))
    with pytest.raises(PlanFileError, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
        load_plan_file(str(path))
    path.write_text(json.dumps(_plan({"deep": inner[0]})))
    assert load_plan_file(str(path))["resources"][0]["inputs"]["deep"]  # one level less: read


def _walk_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_walk_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_walk_depth(v) for v in value), default=0)
    return 0


tricky = st.text(alphabet='[]{}"\\ab\n:,é', max_size=10)
nested = st.recursive(
    st.one_of(st.none(), st.integers(), tricky),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(tricky, children, max_size=3)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(nested, st.booleans(), st.sampled_from([None, 1]))
def test_depth_on_the_text_is_the_depth_of_the_value(value: Any, ascii_only: bool, indent: int | None) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode()
    assert _depth(text) == _walk_depth(value)
    assert _depth(text, limit=1) == min(_walk_depth(value), 2)
