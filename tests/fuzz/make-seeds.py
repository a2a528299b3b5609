#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""
Write the seed corpora of tests/fuzz/ (corpus/seamcall, corpus/faults).

The seamcall seeds are host life cycles a fuzzer would take long to find
(tables, a 2MB page accepted, split with a pair, merge, 4K remove, raw TD
build and teardown), in the byte encoding fuzz_seamcall.c decodes; mutations
of them reach the deep states.  Run from anywhere: python3 make-seeds.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# Leaf numbers (include/tdxsim/tdx_api.h).
L = dict(VP_ENTER=0, MNG_ADDCX=1, PAGE_ADD=2, SEPT_ADD=3, VP_ADDCX=4, AUG=6, BLOCK=7,
         KEY_CONFIG=8, MNG_CREATE=9, VP_CREATE=10, DEMOTE=15, MR_FINALIZE=17, VP_FLUSH=18,
         VPFLUSHDONE=19, KEY_FREEID=20, MNG_INIT=21, VP_INIT=22, PROMOTE=23, RECLAIM=28,
         PAGE_REMOVE=29, SEPT_REMOVE=30, TRACK=38, UNBLOCK=39, CACHE_WB=40, WBINVD=41,
         PAMT_ADD=58, PAMT_REMOVE=59)

RANGE0, RANGE1, RANGE2, RANGE_1G, RANGE_TOP = range(5)


def shape(two_tds=False, vcpus0=1, vcpus1=1, init0=False, init1=False, variant=0):
    return bytes([(1 if two_tds else 0) | (2 if vcpus0 == 2 else 0) | (4 if vcpus1 == 2 else 0) |
                  (0x10 if init0 else 0) | (0x20 if init1 else 0) | (variant << 6)])


# Operand encoders (fuzz_seamcall.c: page_operand, tdr_operand, ...).
def page(k):            # pool page k
    return bytes([0x00, k])


def piece(k, idx):      # 4K piece idx of the 2MB pool page k
    return bytes([0x00, 0x80 | k, idx])


def module_page(sel):   # sel % 4: TDR, TDCX, TDVPR, TDVPX
    return bytes([0x08, sel])


def tdr(t=0):
    return bytes([0x08 | t])


def tdvpr(v=0):
    return bytes([v << 2])


def gpa(rng, level, off=0):   # off: 0, 1 (+4K), 2 (+0x1FF000)
    return bytes([rng, level | (off << 2)])


def value(v):
    return bytes([v])


def call(leaf, *operands, version=0):
    return bytes([0, L[leaf], version]) + b"".join(operands) + b"\x00"


def accept(v, rng, level, off=0):
    return bytes([7, v]) + gpa(rng, level, off)


def vp_exit(v=0):
    return bytes([9, v])


def alloc(two_m=False):
    return bytes([10, 3 if two_m else 0])


def free(k, two_m=False):
    return bytes([11, 4 if two_m else 0, k])


def rule_busy_nth(leaf_index, nth):
    # fault rule on the leaf at table index leaf_index: status, nth
    return bytes([13, leaf_index * 8, 0x0E, 0x00, nth - 1])


def interrupt():
    return bytes([15])


def enter(v=0):
    return call("VP_ENTER", tdvpr(v))


def tables(rng, t=0, p3=1, p2=2, p1=None):
    out = call("SEPT_ADD", gpa(rng, 3), tdr(t), page(p3))
    out += call("SEPT_ADD", gpa(rng, 2), tdr(t), page(p2))
    if p1 is not None:
        out += call("SEPT_ADD", gpa(rng, 1), tdr(t), page(p1))
    return out


def block_track(rng, level, t=0, off=0):
    return call("BLOCK", gpa(rng, level, off), tdr(t)) + call("TRACK", tdr(t)) + vp_exit(0)


def huge_life_cycle(variant=0, with_interrupt=False):
    s = shape(variant=variant)
    s += alloc(True) + alloc() * 6           # pool: 0 = 2MB, 1..6 = 4K
    s += tables(RANGE0)
    s += call("AUG", gpa(RANGE0, 1), tdr(), page(0))
    s += enter() + accept(0, RANGE0, 1)
    s += block_track(RANGE0, 1)
    if with_interrupt:
        s += interrupt()
    s += call("DEMOTE", gpa(RANGE0, 1), tdr(), page(3), page(4), page(5))
    s += call("PAGE_REMOVE", gpa(RANGE0, 0, 1), tdr())      # not blocked: refused
    s += block_track(RANGE0, 0, off=1)
    s += call("PAGE_REMOVE", gpa(RANGE0, 0, 1), tdr())
    s += block_track(RANGE0, 1)
    s += call("PROMOTE", gpa(RANGE0, 1), tdr(), version=1)
    return s


def merge_cycle():
    s = shape(vcpus0=2)
    s += alloc(True) + alloc() * 6
    s += tables(RANGE1)
    s += call("AUG", gpa(RANGE1, 1), tdr(), page(0))
    s += block_track(RANGE1, 1)
    s += call("DEMOTE", gpa(RANGE1, 1), tdr(), page(3), page(4), page(5))
    s += enter(1) + accept(1, RANGE1, 0, 2) + accept(1, RANGE1, 1)
    s += block_track(RANGE1, 1)
    s += call("PROMOTE", gpa(RANGE1, 1), tdr(), version=1)
    s += call("UNBLOCK", gpa(RANGE1, 1), tdr())
    s += call("PAGE_REMOVE", gpa(RANGE1, 1), tdr())
    return s


def small_pages():
    s = shape()
    s += alloc() * 8
    s += tables(RANGE2, p3=0, p2=1, p1=2)
    for i in range(3):
        s += call("AUG", gpa(RANGE2, 0, i % 3), tdr(), page(3 + i))
    s += enter() + accept(0, RANGE2, 0) + accept(0, RANGE2, 0, 1)
    s += block_track(RANGE2, 0, off=2)
    s += call("PAGE_REMOVE", gpa(RANGE2, 0, 2), tdr())
    s += call("WBINVD", page(5)) + call("RECLAIM", page(5))
    s += block_track(RANGE2, 1)
    s += call("SEPT_REMOVE", gpa(RANGE2, 1), tdr())
    return s


def build_time():
    # TD left INITIALIZED: PAGE.ADD from a source page, then finalize.
    s = shape(init0=True)
    s += alloc() * 6
    s += tables(RANGE0, p3=0, p2=1, p1=2)
    s += call("PAGE_ADD", gpa(RANGE0, 0), tdr(), page(3), page(4))
    s += call("AUG", gpa(RANGE0, 0, 1), tdr(), page(5))
    s += call("MR_FINALIZE", tdr())
    s += enter() + accept(0, RANGE0, 0)
    return s


def raw_td():
    # A TD built and torn down by raw SEAMCALLs, next to the convenience one.
    s = shape()
    s += alloc() * 16
    s += call("MNG_CREATE", page(0), value(40))
    s += call("KEY_CONFIG", tdr(1))
    for i in range(6):
        s += call("MNG_ADDCX", page(1 + i), tdr(1))
    s += call("MNG_INIT", tdr(1), bytes([0x0D]))      # td_params: address 0
    s += call("VP_CREATE", page(7), tdr(1))
    for i in range(5):
        s += call("VP_ADDCX", page(8 + i), tdvpr(1))
    s += call("VP_INIT", tdvpr(1), value(0), value(1), version=1)
    s += call("MR_FINALIZE", tdr(1))
    s += call("VP_ENTER", tdvpr(1)) + vp_exit(1)
    s += call("VP_FLUSH", tdvpr(1))
    s += call("VPFLUSHDONE", tdr(1))
    s += call("CACHE_WB", value(0))
    s += call("KEY_FREEID", tdr(1))
    s += call("RECLAIM", page(7))
    s += call("RECLAIM", page(1))
    return s


def two_tds():
    s = shape(two_tds=True, vcpus1=2)
    s += alloc(True) + alloc() * 6
    s += tables(RANGE0, t=1)
    s += call("AUG", gpa(RANGE0, 1), tdr(0), page(0))      # TD0 has no tables
    s += call("AUG", gpa(RANGE0, 1), tdr(1), page(0))
    s += call("AUG", gpa(RANGE0, 1), tdr(1), page(0))      # taken
    s += enter(1) + accept(1, RANGE0, 1)
    s += call("TRACK", tdr(0)) + call("TRACK", tdr(1))
    return s


def pamt_pairs():
    s = shape()
    s += alloc(True) + alloc() * 4
    s += call("PAMT_ADD", page(0) + b"\x00", page(1), page(2))       # level 0: refused
    s += call("PAMT_ADD", page(3) + b"\x01", page(1), page(2))
    s += call("PAMT_ADD", page(3) + b"\x01", page(1), page(4))       # already there
    s += call("PAMT_REMOVE", page(3) + b"\x01")
    s += free(1) + free(0, True)
    return s


def faults():
    s = shape()
    s += alloc(True) + alloc() * 6
    s += rule_busy_nth(1, 1)          # a rule on SEPT.ADD's neighbour in the table
    s += bytes([13, 7, 0, 0x20, 128])  # alloc ENOMEM p=0.5
    s += tables(RANGE0)
    s += alloc() * 2
    s += call("AUG", gpa(RANGE0, 1), tdr(), page(0))
    s += bytes([13, 6, 1, 0x10, 1])   # ACCEPT: interrupt every call
    s += enter() + accept(0, RANGE0, 1) + accept(0, RANGE0, 1)
    return s


def conv(kind, td=0, free_pamt=False):
    # A convenience (op_convenience): kind 0 create, 1 vCPU, 2 teardown, 3 flush, 4 kick;
    # the byte's value mod 5 is the kind, bits 7:3 the TD, bit 2 FREE_PAMT.
    for sel in range(256):
        if sel % 5 == kind and sel >> 3 == td and (kind != 2 or (sel >> 2) & 1 == free_pamt):
            return bytes([6, sel])
    raise ValueError("no encoding")


def conveniences():
    # Teardown under a BUSY on VP.FLUSH, then TDs and vCPUs created under ENOMEM rules.
    s = shape(two_tds=True)
    s += enter(0)
    s += bytes([13, 12 * 8, 4 << 1, 1, 0])   # VP.FLUSH (table index 12): BUSY|RCX, nth=1
    s += conv(2, free_pamt=True)              # teardown TD 0
    s += bytes([13, 7, 0, 0x00, 2])           # alloc: ENOMEM on the 3rd
    s += conv(0) + conv(0)                    # td_create twice
    s += conv(1) + conv(3) + conv(4)
    s += bytes([13, 7, 0, 0x10, 1])           # alloc: ENOMEM every 2nd
    s += conv(0) + conv(1, td=1) + conv(2)
    return s


def write(dirname, name, data):
    d = os.path.join(HERE, "corpus", dirname)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    write("seamcall", "huge-life-cycle", huge_life_cycle())
    write("seamcall", "huge-life-cycle-static", huge_life_cycle(variant=1))
    write("seamcall", "huge-life-cycle-interruptible", huge_life_cycle(variant=2,
                                                                       with_interrupt=True))
    write("seamcall", "merge", merge_cycle())
    write("seamcall", "small-pages", small_pages())
    write("seamcall", "build-time", build_time())
    write("seamcall", "raw-td", raw_td())
    write("seamcall", "two-tds", two_tds())
    write("seamcall", "pamt-pairs", pamt_pairs())
    write("seamcall", "faults", faults())
    write("seamcall", "conveniences", conveniences())

    specs = [
        b"demote:busy=sept:nth=1; aug:busy=rcx:p=0.05; alloc:enomem:nth=3",
        b"TDH.MEM.PAGE.AUG:status=TDX_OPERAND_BUSY|SEPT:every=2:max=3",
        b"accept:interrupt:gpa=0x40000000-0x40200000:level=1",
        b"promote:interrupted:td=0x40001000:thread=1",
        b"15:epoch_busy:nth=2;track:busy=td_epoch",
        b"aug:busy=rcx:p=nan",
        b"remove:status=0x8000020000000092",
        b"alloc:enomem:nth=1:every=2",
    ]
    for i, spec in enumerate(specs):
        write("faults", "parse-%d" % i, b"\x00" + spec)
    envs = [
        b"\x03" + b"42",
        b"\x03" + b"0x5eed",
        b"\x03" + b"-1",
        b"\x05" + b"\x00" + b"demote:busy=sept:nth=1",
        b"\x09" + b"\x00\x00" + b"trace.json",
        b"\x0f" + b"7\x00aug:busy=rcx\x00trace.txt",
        b"\x09" + b"\x00\x00" + b"x" * 4200,
    ]
    for i, env in enumerate(envs):
        write("faults", "env-%d" % i, env)


if __name__ == "__main__":
    main()
