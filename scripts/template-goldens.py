#!/usr/bin/env python3
"""Renders the chat templates under examples/templates/ on the conversations
in tests/fixtures/templates/conversations.jsonl with Python's Jinja2, configured exactly as
Hugging Face transformers configures it (transformers/utils/chat_template_utils.py:
ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and loop controls;
raise_exception; a tojson that calls json.dumps with ensure_ascii=False), and
writes what it renders (or how it fails) to tests/fixtures/templates/expected.json. tests/templates.rs checks that
inference-lab renders byte for byte the same.

    python3 scripts/template-goldens.py          # rewrite expected.json
    python3 scripts/template-goldens.py --check  # fail if it would change

Needs only the jinja2 package (pip install jinja2). strftime_now formats a
fixed date (26 Jul 2024) here as in inference-lab, so runs are reproducible.
"""
import json
import pathlib
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "examples" / "templates"
DIR = ROOT / "tests" / "fixtures" / "templates"
SPECIAL = {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"}


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    import datetime
    return datetime.datetime(2024, 7, 26).strftime(fmt)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    env = environment()
    conversations = [json.loads(line) for line in (DIR / "conversations.jsonl").read_text().splitlines() if line.strip()]
    expected = {"special_tokens": SPECIAL, "renders": {}}
    for path in sorted(TEMPLATES.glob("*.jinja")):
        # Like minijinja and transformers' from_string: one trailing newline is dropped.
        template = env.from_string(path.read_text())
        renders = []
        for c in conversations:
            request = c.get("body", c)
            try:
                text = template.render(messages=request["messages"], tools=request.get("tools"), documents=None,
                                       add_generation_prompt=True, **SPECIAL)
                renders.append({"text": text})
            except jinja2.exceptions.TemplateError as e:
                # raise_exception: the template rejects the conversation.
                renders.append({"raises": str(e)})
            except Exception as e:  # noqa: BLE001 - any other failure must fail in Rust too
                renders.append({"fails": type(e).__name__})
        expected["renders"][path.name] = renders
    text = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    out = DIR / "expected.json"
    if "--check" in sys.argv:
        if out.read_text() != text:
            sys.exit(f"{out} is out of date: run {sys.argv[0]}")
        return
    out.write_text(text)


if __name__ == "__main__":
    main()
