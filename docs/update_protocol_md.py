"""Rewrite the field list at the end of docs/protocol.md from the schema: python docs/update_protocol_md.py"""
from pathlib import Path

from metods_sim.cli import fields_text

path = Path(__file__).with_name("protocol.md")
head = path.read_text().split("Printed by `python -m metods_sim fields`:")[0]
path.write_text(head + "Printed by `python -m metods_sim fields`:\n\n```\n" + fields_text() + "\n```\n")
