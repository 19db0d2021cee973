/*
 * Memory and CPU of processes read from Linux's /proc, from outside: for a process that cannot be asked
 * over IPC (a server started as its own program) or a tree of them (a cluster primary and its workers),
 * and for resident memory, which no process reports about itself the way the kernel counts it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Resident set size (`VmRSS`) in bytes, or undefined when the process is gone or /proc is missing. */
export function residentSetBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

let ticksPerSecond: number | undefined;

/** The kernel's clock tick, the unit of CPU times in /proc/<pid>/stat (100 on almost every Linux). */
function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface StatLine {
  parent: number;
  /** User + system CPU of every thread of the process, in clock ticks. */
  cpuTicks: number;
}

function readStat(pid: number): StatLine | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: fields are counted after its end.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name: state (3), ppid (4), … utime (14), stime (15), numbered as in proc(5).
  return { parent: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

/** The process and every descendant alive now (cluster workers, their helpers). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const siblings = children.get(stat.parent);
    if (siblings) siblings.push(Number(entry));
    else children.set(stat.parent, [Number(entry)]);
  }
  const tree: number[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * CPU time used so far by a process and its living descendants, microseconds. Resolution is one clock
 * tick (10 ms) per process: over a window of seconds that is well under 1 %. A worker that exits takes its
 * time with it, so compare readings only while the tree is stable.
 */
export function treeCpuMicroseconds(root: number): number {
  const microsecondsPerTick = 1_000_000 / clockTicksPerSecond();
  return processTree(root).reduce((sum, pid) => sum + (readStat(pid)?.cpuTicks ?? 0) * microsecondsPerTick, 0);
}

export function formatMegabytes(bytes: number | undefined): string {
  return bytes !== undefined && Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : '–';
}
