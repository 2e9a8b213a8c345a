"""perfanalyzer.profile()'s arguments, without a server: every documented
type is accepted and becomes the Settings the CLI would build; a wrong type
or value is an OptionError naming the parameter."""

from __future__ import annotations

import os
import typing
from pathlib import Path

import pytest
from perfanalyzer import api_options, cli
from perfanalyzer.api import settings_from
from perfanalyzer.api_options import ProfileOptions
from perfanalyzer.errors import OptionError
from perfanalyzer.settings import Range, RateRange
from perfanalyzer.tls import HttpsOptions


@pytest.mark.parametrize(("value", "expected"), [
    (3, Range(3, 3, 1)),
    (range(1, 5), Range(1, 4, 1)),
    (range(2, 9, 3), Range(2, 8, 3)),
    ([1], Range(1, 1, 1)),              # `concurrency=[1]` was a ValueError (unpacking)
    ([2, 6], Range(2, 6, 1)),
    ((1, 7, 2), Range(1, 7, 2)),
    ((4,), Range(4, 4, 1)),
])
def test_concurrency_takes_every_documented_type(value: object, expected: Range) -> None:
    s = settings_from("m", concurrency=value)  # type: ignore[arg-type]
    assert s.concurrency_range == expected and s.load_mode == "concurrency"


@pytest.mark.parametrize(("value", "expected"), [
    (50, RateRange(50.0, 50.0, 1.0)),
    (12.5, RateRange(12.5, 12.5, 1.0)),
    ([10.0], RateRange(10.0, 10.0, 1.0)),
    ((100, 300, 100), RateRange(100.0, 300.0, 100.0)),
    ([10, 20.5], RateRange(10.0, 20.5, 1.0)),
])
def test_request_rate_takes_every_documented_type(value: object, expected: RateRange) -> None:
    s = settings_from("m", request_rate=value)  # type: ignore[arg-type]
    assert s.request_rate_range == expected and s.load_mode == "request_rate"


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"concurrency": "4"}, "concurrency='4'"),
    ({"concurrency": [1, 2, 4, 8]}, "concurrency=[1, 2, 4, 8]"),
    ({"concurrency": []}, "concurrency=[]"),
    ({"concurrency": True}, "concurrency=True"),
    ({"concurrency": [1.5]}, "concurrency=[1.5]"),
    ({"concurrency": range(3, 3)}, "the range is empty"),
    ({"request_rate": "10"}, "request_rate='10'"),
    ({"request_rate": (1, 2, 3, 4)}, "request_rate=(1, 2, 3, 4)"),
    ({"batch_size": "4"}, "batch_size='4': want int, got str"),
    ({"batch_size": True}, "batch_size=True: want int, got bool"),
    ({"measurement_interval_ms": 1.5}, "measurement_interval_ms=1.5: want int"),
    ({"protocol": "HTTP"}, "protocol='HTTP': want one of 'http', 'grpc'"),
    ({"http_headers": "A: b"}, "http_headers='A: b': want a sequence of (str)"),
    ({"shapes": {"IN": "3,4"}}, "shapes={'IN': '3,4'}"),
    ({"trace_levels": ["DEBUG"]}, "trace_levels=['DEBUG']"),
    ({"request_parameters": [("a", "1", "int")]}, "request_parameters="),
    ({"https": {"verify_peer": 0}}, "https={'verify_peer': 0}: want HttpsOptions"),
    ({"filename": 3}, "filename=3: want str or os.PathLike or None"),
    ({"collect_metrics": "yes"}, "collect_metrics='yes': want bool"),
])
def test_a_wrong_type_names_the_parameter(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(OptionError) as e:
        settings_from("m", **kwargs)  # type: ignore[arg-type]
    assert named in str(e.value)


def test_unknown_and_internal_keywords_are_refused_with_the_way_to_say_them() -> None:
    with pytest.raises(OptionError, match="concurency: unknown setting"):
        settings_from("m", concurency=3)  # type: ignore[call-arg]
    with pytest.raises(OptionError, match=r"concurrency_range: unknown setting .*\(give it as concurrency=\)"):
        settings_from("m", concurrency_range=Range(1, 2, 1))  # type: ignore[call-arg]
    with pytest.raises(OptionError, match="model=3: want str"):
        settings_from(3)  # type: ignore[arg-type]


def test_a_bad_value_names_the_parameter_refused_on_its_own() -> None:
    with pytest.raises(OptionError, match=r"^batch_size=0: Failed to parse -b \(batch size\)"):
        settings_from("m", batch_size=0, measurement_interval_ms=100)
    with pytest.raises(OptionError, match=r"^measurement_interval_ms=0: Failed to parse --measurement-interval"):
        settings_from("m", measurement_interval_ms=0)
    with pytest.raises(OptionError, match=r"^concurrency=\(0, 2\): The start of the search"):
        settings_from("m", concurrency=(0, 2))
    with pytest.raises(OptionError, match=r"^model='': Failed to parse -m"):
        settings_from("", batch_size=4)
    with pytest.raises(OptionError, match=r"^streaming=True: Streaming is only allowed with gRPC protocol"):
        settings_from("m", streaming=True)
    # Two arguments that conflict: the message names both, as the flags' does.
    with pytest.raises(OptionError, match="^Cannot specify more then one inference load mode"):
        settings_from("m", concurrency=1, request_rate=10)
    with pytest.raises(OptionError, match="^-H: custom headers are not supported with -i grpc"):
        settings_from("m", protocol="grpc", http_headers=["A: b"])


def test_the_natural_types_build_the_cli_settings(tmp_path: Path) -> None:
    data = tmp_path / "d.json"
    data.write_text('{"data": [{}]}')
    s = settings_from("m", concurrency=[1, 3], shapes={"IN": [3, 4]}, http_headers=["A: b"],
                      request_parameters={"n": 3, "flag": True, "name": "x"}, input_data_paths=data,
                      trace_levels=("TIMESTAMPS",), filename=tmp_path / "out.csv",
                      bls_composing_models=[("add_sub", "1")], https=HttpsOptions(verify_peer=0))
    assert s == cli.parse_args(["-m", "m", "--concurrency-range", "1:3", "--shape", "IN:3,4", "-H", "A: b",
                                "--request-parameter", "n:3:int", "--request-parameter", "flag:true:bool",
                                "--request-parameter", "name:x:string", "--input-data", str(data),
                                "--trace-level", "TIMESTAMPS", "-f", str(tmp_path / "out.csv"),
                                "--bls-composing-models", "add_sub:1", "--ssl-https-verify-peer", "0"])
    assert settings_from("m", shapes=[("IN", (2,))]).shapes == (("IN", (2,)),)
    assert settings_from("m", input_data_paths=[str(data), data]).input_data_paths == (str(data), str(data))


def _sample(tp: object) -> object:
    """A value of type `tp`, for the types ProfileOptions uses."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if api_options._is_union(tp):
        return _sample(args[0])
    if origin is typing.Literal:
        return args[-1]
    if origin is os.PathLike:
        return Path("x")
    if origin is tuple:
        return tuple(_sample(a) for a in args)
    if origin is not None and issubclass(origin, typing.Mapping):  # type: ignore[arg-type]
        return {_sample(args[0]): _sample(args[1])}
    if origin is not None and issubclass(origin, typing.Sequence):  # type: ignore[arg-type]
        return [_sample(args[0])]
    return {bool: True, int: 1, float: 1.5, str: "x"}.get(tp, None) or tp()  # type: ignore[operator,call-overload]


@pytest.mark.parametrize("name", sorted(typing.get_type_hints(ProfileOptions)))
def test_every_option_takes_its_type_and_refuses_another(name: str) -> None:
    tp = typing.get_type_hints(ProfileOptions)[name]
    value = _sample(tp)
    api_options.check(name, value)
    (converted,) = api_options.to_settings_fields({name: value}).values()
    assert not isinstance(converted, (list, dict, os.PathLike))  # Settings holds tuples and str
    with pytest.raises(OptionError, match=f"^{name}=<object object at"):
        api_options.check(name, object())


def test_profile_refuses_bad_arguments_before_contacting_the_server() -> None:
    import asyncio

    import perfanalyzer

    nowhere = "127.0.0.1:9"  # nothing listens: an argument error must come first
    with pytest.raises(OptionError, match="^progress='yes': want bool"):
        perfanalyzer.profile("m", url=nowhere, progress="yes")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="^on_window=3: want a callable"):
        perfanalyzer.profile("m", url=nowhere, on_window=3)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="^concurrency='1'"):
        perfanalyzer.profile("m", url=nowhere, concurrency="1")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="^batch_size='2'"):
        asyncio.run(perfanalyzer.profile_async("m", url=nowhere, batch_size="2"))  # type: ignore[arg-type]
