// What the bench reads besides clocks: percentiles, and the processes' own accounts from Linux's
// /proc (proportional memory, peak resident memory, CPU time including reaped children), so
// figures such as CPU per step do not depend on a noisy wall clock. Off Linux these read nothing.
import { readdirSync, readFileSync } from 'node:fs';
import { findProcesses } from '../test/support/errand-process.js';

/** The `p`-th percentile (0–100) by nearest rank; NaN for no samples. */
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
export const median = (xs: number[]) => percentile(xs, 50);

const CLOCK_TICKS = 100; // USER_HZ on Linux

/**
 * A process's CPU seconds with its descendants': its own, those of the children it has reaped,
 * and those of the descendants still running (the helper that starts git and sandboxd, the
 * sandboxes and their commands, for the worker).
 */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  return ticks(pid, 15) + childrenOf(pid).reduce((sum, child) => sum + cpuSeconds(child), 0);
}

/** A process's own CPU seconds (its threads, not its children). */
export const ownCpuSeconds = (pid: number | undefined) => (pid ? ticks(pid, 13) : 0);

/**
 * CPU seconds so far of Errand's process (its own threads), of Temporal (the dev server; or the
 * cluster's server with its PostgreSQL and the database's backends), and of everything else
 * the machine ran except this process and the commands it reaped: the sandboxes, their commands
 * and git. Those are counted from the machine's total (/proc/stat), not from a process tree:
 * sandboxd runs detached, and one whose starter exited first is reparented out of any tree (a
 * tree sum then went negative). Assumes the bench has the machine to itself.
 */
export function cpuSplit(errandPid: number | undefined, temporalPids: number[]): { errand: number; temporal: number; children: number } {
  const errand = ownCpuSeconds(errandPid);
  const temporal = temporalPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  return { errand, temporal, children: machineCpuSeconds() - errand - temporal - ticks(process.pid, 15) };
}

/** CPU seconds the whole machine spent busy: user, nice, system, irq, softirq, steal (the `cpu` line of /proc/stat). */
function machineCpuSeconds(): number {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** utime, stime, cutime, cstime are fields 14–17 of /proc/PID/stat; 11–14 after the state field. */
function ticks(pid: number, end: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields.slice(11, end).reduce((sum, f) => sum + Number(f), 0) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** Samples until the returned function is called, every `everyMs`; gives the largest value `read` gave. */
export function samplePeak(read: () => number, everyMs = 250): () => number {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, read())), everyMs);
  return () => {
    clearInterval(timer);
    return Math.max(peak, read());
  };
}

/** A process's resident memory in MB now. */
export function rssMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/**
 * The proportional memory (PSS: shared pages divided among the processes sharing them, so N of
 * them add up to what N cost) of each process running `file`, sampled until the returned
 * function is called; it gives the peak seen for each, in MB.
 */
export function samplePss(file: string): () => number[] {
  const peak = new Map<number, number>();
  const timer = setInterval(() => {
    for (const pid of findProcesses(file)) {
      try {
        const kb = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1]);
        if (kb) peak.set(pid, Math.max(peak.get(pid) ?? 0, kb / 1024));
      } catch {
        // exited meanwhile
      }
    }
  }, 250);
  return () => {
    clearInterval(timer);
    return [...peak.values()];
  };
}

/** When a task's events happened, by type (the first of each), from its event log on disk. */
export function eventTimes(stateDir: string, taskId: string): Map<string, number> {
  const times = new Map<string, number>();
  try {
    for (const line of readFileSync(`${stateDir}/artifacts/tasks/${taskId}/events.jsonl`, 'utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as { type: string; at: string };
      if (!times.has(e.type)) times.set(e.type, Date.parse(e.at));
    }
  } catch {
    // no log yet
  }
  return times;
}
