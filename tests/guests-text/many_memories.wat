;; Hostile: a policy of the `operation` world that takes many linear memories
;; and fills each one. Every memory stays under the cap on its own (15 MiB
;; against the default 64 MiB); together they hold 120 MiB. Stopped by the
;; memory limit, which counts all memories of the module together.
;;
;; Rust cannot emit several memories, hence WebAssembly text. The memories
;; come both ways a module can get them: one core module declares two
;; (multi-memory), and the component instantiates it four times.
(component
  ;; Two memories, empty until `hoard` grows each by `pages` and writes to
  ;; every byte, so the host really has to provide the memory.
  (core module $Hoarder
    (memory $a 0)
    (memory $b 0)
    (func (export "hoard") (param $pages i32)
      (local $bytes i32)
      (local.set $bytes (i32.mul (local.get $pages) (i32.const 65536)))
      (if (i32.eq (memory.grow $a (local.get $pages)) (i32.const -1))
        (then unreachable))
      (memory.fill $a (i32.const 0) (i32.const 0xAA) (local.get $bytes))
      (if (i32.eq (memory.grow $b (local.get $pages)) (i32.const -1))
        (then unreachable))
      (memory.fill $b (i32.const 0) (i32.const 0xAA) (local.get $bytes))))

  ;; The policy itself: the canonical ABI's memory and allocator, and `run`.
  (core module $Policy
    (import "hoarders" "hoard0" (func $hoard0 (param i32)))
    (import "hoarders" "hoard1" (func $hoard1 (param i32)))
    (import "hoarders" "hoard2" (func $hoard2 (param i32)))
    (import "hoarders" "hoard3" (func $hoard3 (param i32)))
    (memory (export "memory") 1)
    ;; The answer's text at 16; the host's copies of the request from 1024.
    (data (i32.const 16) "filled 8 memories of 15 MiB")
    (global $next (mut i32) (i32.const 1024))

    ;; A bump allocator for the request's strings; the host never frees.
    (func (export "realloc")
      (param $old i32) (param $old_size i32) (param $align i32) (param $size i32)
      (result i32)
      (local $at i32)
      (local.set $at
        (i32.and
          (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
          (i32.sub (i32.const 0) (local.get $align))))
      (global.set $next (i32.add (local.get $at) (local.get $size)))
      (if (i32.gt_u (global.get $next) (i32.const 65536))
        (then unreachable))
      (local.get $at))

    ;; run(request) -> result<string, string>: fill the memories, then answer
    ;; `ok` with the text above, written as the canonical ABI lays out a
    ;; result (discriminant at 0, string pointer at 4, length at 8).
    (func (export "run")
      (param i32 i32 i32 i32) (result i32)
      (call $hoard0 (i32.const 240))
      (call $hoard1 (i32.const 240))
      (call $hoard2 (i32.const 240))
      (call $hoard3 (i32.const 240))
      (i32.store8 (i32.const 0) (i32.const 0))
      (i32.store (i32.const 4) (i32.const 16))
      (i32.store (i32.const 8) (i32.const 27))
      (i32.const 0)))

  (core instance $h0 (instantiate $Hoarder))
  (core instance $h1 (instantiate $Hoarder))
  (core instance $h2 (instantiate $Hoarder))
  (core instance $h3 (instantiate $Hoarder))
  (core instance $hoarders
    (export "hoard0" (func $h0 "hoard"))
    (export "hoard1" (func $h1 "hoard"))
    (export "hoard2" (func $h2 "hoard"))
    (export "hoard3" (func $h3 "hoard")))
  (core instance $policy (instantiate $Policy (with "hoarders" (instance $hoarders))))

  ;; The `operation` world's `run`, with `request` spelled out as its record
  ;; (component types are structural).
  (type $request' (record (field "service" string) (field "operation" string)))
  (export $request "request" (type $request'))
  (func $run (param "request" $request) (result (result string (error string)))
    (canon lift (core func $policy "run")
      (memory $policy "memory")
      (realloc (func $policy "realloc"))))
  (export "run" (func $run)))
