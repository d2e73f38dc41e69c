"""Walk a pickle's opcode stream before unpickling it: nothing is built, nothing recurses.

Python's unpickler itself is iterative, but what it builds is not always safe to touch:
hashing a tuple nested a million deep (as a dict key) overflows the C stack, a memo index
of 2**32 makes the C unpickler allocate a 32 GB memo table, a 4-byte length prefix can claim
gigabytes the file does not hold, and BUILD hands arbitrary state to whatever object is on
the stack (a class, a function, a tensor's ``__setstate__``). This scanner simulates the
unpickler's stack with small inert cells (nesting depth, tuple size, the provenance of each
value, and the value itself for short atoms) and refuses such streams before anything is
built, in time linear in the number of opcodes; large byte payloads are skipped with seek.

It knows nothing about StyleGAN: the caller passes a ``ScanPolicy`` (which globals may be
named, which call results may receive BUILD state, whether persistent ids are allowed).
"""

from __future__ import annotations

import pickletools
from collections.abc import Container
from dataclasses import dataclass, field
from typing import BinaryIO


class PickleRefused(Exception):
    """The stream names a global outside the allow-list (``.name`` is 'module.qualname')."""

    def __init__(self, name: str, context: str = ""):
        super().__init__(name)
        self.name = name  # as the file spells it: quote it before printing
        self.context = context  # where it was found, in our words ("inside a tensor storage")


class PickleMalformed(Exception):
    """The stream is not one a network file would ever contain (message says why and where)."""


class PickleTruncated(PickleMalformed):
    """The stream ends before its STOP opcode."""


@dataclass(frozen=True)
class ScanLimits:
    max_depth: int = 100  # containers inside containers (a 1024-px snapshot nests about 40)
    max_tuple_nodes: int = 10_000  # nodes one tuple's hash visits (shared sub-tuples count
    # each time they are reached, so a doubling chain cannot hide an exponential hash)
    max_line: int = 4096  # bytes of a newline-terminated argument (a global's name, a number)
    max_short: int = 256  # strings up to this length keep their value (global names, ids)
    memo_slack: int = 1024  # how far a memo index may run ahead of the values stored so far


LIMITS = ScanLimits()


@dataclass(frozen=True)
class ScanPolicy:
    # (module, name) of every global the stream may name; None leaves that check to the
    # caller's own unpickler (torch's weights_only loader for .pt files).
    allowed: Container[tuple[str, str]] | None
    # Globals whose call results may receive BUILD state (the loader's own inert records).
    stateful: Container[tuple[str, str]] = frozenset()
    # Whether persistent ids (torch.save's storage references) may appear.
    persistent_ids: bool = False


@dataclass
class ScanReport:
    opcodes: int = 0
    globals: set[tuple[str, str]] = field(default_factory=set)
    persistent_ids: list = field(default_factory=list)  # their values where short and known


_UNKNOWN = object()  # a value the scanner does not keep (long strings, containers, results)


class _Cell:
    """What one stack slot holds, as far as safety is concerned."""

    __slots__ = ("depth", "nodes", "kind", "value")

    def __init__(self, depth=0, nodes=1, kind=None, value=_UNKNOWN):
        self.depth = depth  # 0 for atoms, 1 + deepest item for containers
        self.nodes = nodes  # tuples: nodes a hash visits; others 1
        self.kind = kind  # ("global", key) | ("result", key) | "tuple" | None
        self.value = value


_OPS = {op.code.encode("latin1")[0]: op for op in pickletools.opcodes}
_ATOMS = frozenset({"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "STRING",
                    "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
                    "BYTEARRAY8", "NONE", "NEWTRUE", "NEWFALSE", "UNICODE", "SHORT_BINUNICODE",
                    "BINUNICODE", "BINUNICODE8", "FLOAT", "BINFLOAT"})
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_LENGTH_BYTES = {pickletools.TAKEN_FROM_ARGUMENT1: (1, False),
                 pickletools.TAKEN_FROM_ARGUMENT4: (4, True),
                 pickletools.TAKEN_FROM_ARGUMENT4U: (4, False),
                 pickletools.TAKEN_FROM_ARGUMENT8U: (8, False)}


class _Scanner:
    def __init__(self, f: BinaryIO, end: int, policy: ScanPolicy, limits: ScanLimits):
        self.f, self.end, self.policy, self.limits = f, end, policy, limits
        self.stack: list[_Cell] = []
        self.marks: list[int] = []
        self.memo: dict[int, _Cell] = {}
        self.report = ScanReport()
        self.pos = 0

    # --- reading arguments -------------------------------------------------------------

    def _read(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) < n:
            raise PickleTruncated("the file is truncated")
        return data

    def _line(self) -> bytes:
        line = self.f.readline(self.limits.max_line + 1)
        if not line.endswith(b"\n"):
            if len(line) > self.limits.max_line:
                self._bad(f"a text argument longer than {self.limits.max_line} bytes")
            raise PickleTruncated("the file is truncated")
        return line[:-1]

    def _counted(self, width: int, signed: bool):
        """A length-prefixed argument: its value when short, else skipped (never read)."""
        n = int.from_bytes(self._read(width), "little", signed=signed)
        remaining = self.end - self.f.tell()
        if n < 0:
            self._bad(f"a negative length {n}")
        if n > remaining:  # an interrupted download, or a claim the file cannot back
            raise PickleTruncated(f"a length of {n} bytes with only {remaining} left")
        if n <= self.limits.max_short:
            return self._read(n)
        self.f.seek(n, 1)
        return _UNKNOWN

    def _arg(self, op):
        desc = op.arg
        if desc is None:
            return None
        if desc.n > 0:
            return self._read(desc.n)
        if desc.n == pickletools.UP_TO_NEWLINE:
            if desc.name == "stringnl_noescape_pair":
                return self._line(), self._line()
            return self._line()
        return self._counted(*_LENGTH_BYTES[desc.n])

    # --- the simulated stack -------------------------------------------------------------

    def _bad(self, what: str):
        raise PickleMalformed(f"{what} (byte {self.pos})")

    def _pop(self) -> _Cell:
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            self._bad("an opcode that pops an empty stack")
        return self.stack.pop()

    def _top(self) -> _Cell:
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            self._bad("an opcode that reads an empty stack")
        return self.stack[-1]

    def _pop_mark(self) -> list[_Cell]:
        if not self.marks:
            self._bad("an opcode that needs a MARK where there is none")
        at = self.marks.pop()
        items = self.stack[at:]
        del self.stack[at:]
        return items

    def _nest(self, items: list[_Cell]) -> int:
        depth = 1 + max((c.depth for c in items), default=0)
        if depth > self.limits.max_depth:
            self._bad(f"values nested more than {self.limits.max_depth} levels deep")
        return depth

    def _tuple(self, items: list[_Cell]) -> _Cell:
        nodes = 1 + sum(c.nodes for c in items)
        if nodes > self.limits.max_tuple_nodes:
            self._bad(f"a tuple of more than {self.limits.max_tuple_nodes} nested elements")
        values = tuple(c.value for c in items)
        known = len(values) <= 16 and _UNKNOWN not in values
        return _Cell(self._nest(items), nodes, "tuple", values if known else _UNKNOWN)

    def _grow(self, target: _Cell, items: list[_Cell]) -> None:
        target.depth = max(target.depth, self._nest(items))

    def _global(self, module, name) -> _Cell:
        if not (isinstance(module, str) and isinstance(name, str)):
            self._bad("a global whose name is not a short string")
        key = (module, name)
        if self.policy.allowed is not None and key not in self.policy.allowed:
            raise PickleRefused(f"{module}.{name}")
        self.report.globals.add(key)
        return _Cell(kind=("global", key), value=("global", module, name))

    def _call(self, fn: _Cell, args: list[_Cell]) -> _Cell:
        if not (isinstance(fn.kind, tuple) and fn.kind[0] == "global"):
            self._bad("a call on something that is not an allowed global")
        return _Cell(self._nest(args), kind=("result", fn.kind[1]))

    def _build(self, target: _Cell, state: _Cell) -> None:
        kind = target.kind
        if not (isinstance(kind, tuple) and kind[0] == "result" and kind[1] in
                self.policy.stateful):
            what = (f"{'.'.join(kind[1])} itself" if isinstance(kind, tuple) and
                    kind[0] == "global" else
                    f"a {'.'.join(kind[1])} value" if isinstance(kind, tuple) else "a plain value")
            self._bad(f"state (BUILD) for {what}; only the loader's own records take state")
        self._grow(target, [state])

    # --- the opcode loop -----------------------------------------------------------------

    def run(self) -> ScanReport:
        f, stack, push = self.f, self.stack, self.stack.append
        while True:
            self.pos = f.tell()
            code = f.read(1)
            if not code:
                raise PickleTruncated("the file is truncated")
            op = _OPS.get(code[0])
            if op is None:
                self._bad(f"an unknown opcode 0x{code[0]:02x}; not a pickle")
            self.report.opcodes += 1
            arg = self._arg(op)
            name = op.name
            if name in _ATOMS:
                push(_Cell(value=self._atom_value(name, arg)))
            elif name in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET"):
                push(_Cell(1))
            elif name == "EMPTY_TUPLE":
                push(_Cell(1, kind="tuple", value=()))
            elif name == "MARK":
                if len(self.marks) >= self.limits.max_depth:  # each open mark is a level
                    self._bad(f"values nested more than {self.limits.max_depth} levels deep")
                self.marks.append(len(stack))
            elif name == "TUPLE":
                push(self._tuple(self._pop_mark()))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                items = [self._pop() for _ in range(int(name[-1]))][::-1]
                push(self._tuple(items))
            elif name in ("LIST", "DICT", "FROZENSET"):
                push(_Cell(self._nest(self._pop_mark())))
            elif name in ("APPENDS", "SETITEMS", "ADDITEMS"):
                items = self._pop_mark()
                self._grow(self._top(), items)
            elif name == "APPEND":
                item = self._pop()
                self._grow(self._top(), [item])
            elif name == "SETITEM":
                value, key = self._pop(), self._pop()
                self._grow(self._top(), [key, value])
            elif name == "POP":
                if self.marks and self.marks[-1] == len(stack):
                    self.marks.pop()
                else:
                    self._pop()
            elif name == "POP_MARK":
                self._pop_mark()
            elif name == "DUP":
                push(self._top())
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                cell = self.memo.get(self._memo_index(name, arg))
                if cell is None:
                    self._bad("a memo reference to nothing stored")
                push(cell)
            elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
                index = len(self.memo) if name == "MEMOIZE" else self._memo_index(name, arg)
                if index > len(self.memo) + self.limits.memo_slack:
                    self._bad(f"a memo index of {index} with {len(self.memo)} values stored")
                self.memo[index] = self._top()
            elif name in ("GLOBAL", "INST"):
                module, qual = (a.decode("utf-8", "replace") for a in arg)
                cell = self._global(module, qual)
                push(self._call(cell, self._pop_mark()) if name == "INST" else cell)
            elif name == "STACK_GLOBAL":
                qual, module = self._pop(), self._pop()
                push(self._global(module.value, qual.value))
            elif name == "REDUCE":
                args = self._pop()
                push(self._call(self._pop(), [args]))
            elif name in ("NEWOBJ", "NEWOBJ_EX"):
                args = [self._pop() for _ in range(1 if name == "NEWOBJ" else 2)][::-1]
                push(self._call(self._pop(), args))
            elif name == "OBJ":
                items = self._pop_mark()
                if not items:
                    self._bad("an OBJ without a class")
                push(self._call(items[0], items[1:]))
            elif name == "BUILD":
                state = self._pop()
                self._build(self._top(), state)
            elif name in ("PERSID", "BINPERSID"):
                pid = self._pop().value if name == "BINPERSID" else arg
                if not self.policy.persistent_ids:
                    self._bad("a persistent id (torch.save's storage reference)")
                self.report.persistent_ids.append(pid)
                push(_Cell(kind=("result", ("persistent", "id")), value=("persistent", pid)))
            elif name in ("EXT1", "EXT2", "EXT4"):
                self._bad("an extension-registry code")
            elif name in ("NEXT_BUFFER", "READONLY_BUFFER"):
                self._bad("an out-of-band buffer")
            elif name == "PROTO":
                if arg[0] > 5:
                    self._bad(f"pickle protocol {arg[0]}, newer than any Python writes")
            elif name == "FRAME":
                size = int.from_bytes(arg, "little")
                if size > self.end - f.tell():
                    raise PickleTruncated(f"a frame of {size} bytes with only "
                                          f"{self.end - f.tell()} left")
            elif name == "STOP":
                if not stack:
                    self._bad("a STOP with nothing on the stack")
                return self.report

    def _atom_value(self, name: str, arg):
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if arg is _UNKNOWN or name in ("FLOAT", "BINFLOAT", "BYTEARRAY8"):
            return _UNKNOWN
        if name in ("BININT", "BININT1", "BININT2"):
            return int.from_bytes(arg, "little", signed=name == "BININT")
        if name == "LONG1":
            return int.from_bytes(arg, "little", signed=True)
        if name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
            text = arg.decode("utf-8", "replace") if name != "UNICODE" else _UNKNOWN
            return text
        if name in ("INT", "LONG"):
            digits = arg.rstrip(b"L")
            return int(digits) if 0 < len(digits) <= 20 and digits.lstrip(b"-").isdigit() \
                else _UNKNOWN
        if name in ("BINBYTES", "SHORT_BINBYTES", "BINBYTES8"):
            return arg
        return _UNKNOWN  # protocol-0/1 strings: never needed as values

    @staticmethod
    def _memo_index(name: str, arg) -> int:
        if name in ("GET", "PUT"):
            try:
                return int(arg)
            except ValueError:
                raise PickleMalformed(f"a memo index {arg[:20]!r} that is not a number") \
                    from None
        return int.from_bytes(arg, "little")


def scan_pickle(f: BinaryIO, end: int, policy: ScanPolicy,
                limits: ScanLimits = LIMITS) -> ScanReport:
    """Scan one pickle from ``f``'s position to its STOP opcode (``f`` is left after it).

    Args:
        end: the stream's length in bytes; no length prefix may claim more than remains.
    Returns:
        What it named: globals, persistent ids, the opcode count.
    Raises:
        PickleRefused: a global outside ``policy.allowed`` (nothing was built).
        PickleTruncated: the stream ends early.
        PickleMalformed: anything a network file never holds (the reason, with the offset).
    """
    return _Scanner(f, end, policy, limits).run()
