;; Hostile: a policy of the `operation` world whose allocator gives the host
;; a pointer past the end of its memory when the host hands back the answer
;; of a host call (`settings.get`, whose string is copied into the guest).
;; The first two allocations, for the request's strings, are honest.
(component
  (import "sme:policy/settings@0.1.0" (instance $settings
    (export "get" (func (param "key" string) (result (option string))))))

  ;; The memory and the allocator, first, so the host call can be lowered
  ;; with them.
  (core module $Memory
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    (global $calls (mut i32) (i32.const 0))
    (func (export "realloc")
      (param $old i32) (param $old_size i32) (param $align i32) (param $size i32)
      (result i32)
      (local $at i32)
      (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
      (if (i32.gt_u (global.get $calls) (i32.const 2))
        (then (return (i32.const -16))))
      (local.set $at (global.get $next))
      (global.set $next (i32.add (global.get $next) (i32.add (local.get $size) (i32.const 8))))
      (local.get $at)))
  (core instance $memory (instantiate $Memory))

  (core func $get (canon lower (func $settings "get")
    (memory $memory "memory")
    (realloc (func $memory "realloc"))))

  (core module $Policy
    (import "memory" "memory" (memory 1))
    (import "host" "get" (func $get (param i32 i32 i32)))
    ;; It declares the setting it reads, as the SDK's `settings!` does.
    (@custom "sme-settings" "mode\tstring\tquiet\t\t\tthe mode\n")
    (data (i32.const 16) "mode")
    ;; run(request) -> result<string, string>: read the setting, then
    ;; answer `ok` with an empty text.
    (func (export "run")
      (param i32 i32 i32 i32) (result i32)
      (call $get (i32.const 16) (i32.const 4) (i32.const 64))
      (i32.store8 (i32.const 0) (i32.const 0))
      (i32.store (i32.const 4) (i32.const 16))
      (i32.store (i32.const 8) (i32.const 0))
      (i32.const 0)))
  (core instance $policy (instantiate $Policy
    (with "memory" (instance $memory))
    (with "host" (instance (export "get" (func $get))))))

  (type $request' (record (field "service" string) (field "operation" string)))
  (export $request "request" (type $request'))
  (func $run (param "request" $request) (result (result string (error string)))
    (canon lift (core func $policy "run")
      (memory $memory "memory")
      (realloc (func $memory "realloc"))))
  (export "run" (func $run)))
