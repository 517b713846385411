;; Sums of fast-weight states (compactState.ts, fastWeights.ts via simd/rows.ts); compiled by scripts/wasm.mjs.
;; axpbyRows: y = a * y + sum over rows r: (w * scale[r]) * x[r, :] for int8 rows x and float32 y, 16 values
;; a step (int8 -> int16 -> int32 -> float32). sumScaled: out = a * x + b * y over float32, 4 values a step.
;; quantizeRows: float32 rows to int8 rows with one scale per row (the row's largest magnitude / 127), each
;; value rounded to the nearest step (ties to even), 16 values a step (float32 -> int32 -> int16 -> int8).
(module
  (memory (export "memory") 1)
  (func (export "axpbyRows")
    (param $y i32) (param $x i32) (param $scales i32) (param $rows i32) (param $cols i32)
    (param $a f32) (param $w f32)
    (local $r i32) (local $end i32) (local $s v128) (local $av v128) (local $v v128) (local $h v128)
    (local.set $av (f32x4.splat (local.get $a)))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $s
          (f32x4.splat
            (f32.mul (local.get $w) (f32.load (i32.add (local.get $scales) (i32.shl (local.get $r) (i32.const 2)))))))
        (local.set $end (i32.add (local.get $x) (local.get $cols)))
        (block $cols_done
          (loop $step
            (br_if $cols_done (i32.ge_u (local.get $x) (local.get $end)))
            (local.set $v (v128.load (local.get $x)))
            ;; values 0-7
            (local.set $h (i16x8.extend_low_i8x16_s (local.get $v)))
            (v128.store offset=0 (local.get $y)
              (f32x4.add
                (f32x4.mul (v128.load offset=0 (local.get $y)) (local.get $av))
                (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $h))) (local.get $s))))
            (v128.store offset=16 (local.get $y)
              (f32x4.add
                (f32x4.mul (v128.load offset=16 (local.get $y)) (local.get $av))
                (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $h))) (local.get $s))))
            ;; values 8-15
            (local.set $h (i16x8.extend_high_i8x16_s (local.get $v)))
            (v128.store offset=32 (local.get $y)
              (f32x4.add
                (f32x4.mul (v128.load offset=32 (local.get $y)) (local.get $av))
                (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $h))) (local.get $s))))
            (v128.store offset=48 (local.get $y)
              (f32x4.add
                (f32x4.mul (v128.load offset=48 (local.get $y)) (local.get $av))
                (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $h))) (local.get $s))))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (local.set $y (i32.add (local.get $y) (i32.const 64)))
            (br $step)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))
  (func (export "sumScaled")
    (param $out i32) (param $x i32) (param $y i32) (param $n i32) (param $a f32) (param $b f32)
    (local $end i32) (local $av v128) (local $bv v128)
    (local.set $av (f32x4.splat (local.get $a)))
    (local.set $bv (f32x4.splat (local.get $b)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (v128.store (local.get $out)
          (f32x4.add
            (f32x4.mul (v128.load (local.get $x)) (local.get $av))
            (f32x4.mul (v128.load (local.get $y)) (local.get $bv))))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (br $step))))
  (func (export "quantizeRows")
    (param $x i32) (param $out i32) (param $scales i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $p i32) (local $end i32) (local $m v128) (local $scale f32) (local $inv v128)
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $end (i32.add (local.get $x) (i32.shl (local.get $cols) (i32.const 2))))
        ;; the row's largest magnitude
        (local.set $m (f32x4.splat (f32.const 0)))
        (local.set $p (local.get $x))
        (block $max_done
          (loop $max_step
            (br_if $max_done (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $m (f32x4.max (local.get $m) (f32x4.abs (v128.load (local.get $p)))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $max_step)))
        (local.set $scale
          (f32.div
            (f32.max
              (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
              (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m))))
            (f32.const 127)))
        (f32.store (i32.add (local.get $scales) (i32.shl (local.get $r) (i32.const 2))) (local.get $scale))
        ;; 1 / scale, or 0 for a row of zeros (its values stay 0)
        (local.set $inv
          (f32x4.splat
            (select
              (f32.div (f32.const 1) (local.get $scale))
              (f32.const 0)
              (f32.gt (local.get $scale) (f32.const 0)))))
        (local.set $p (local.get $x))
        (block $q_done
          (loop $q_step
            (br_if $q_done (i32.ge_u (local.get $p) (local.get $end)))
            (v128.store (local.get $out)
              (i8x16.narrow_i16x8_s
                (i16x8.narrow_i32x4_s
                  (i32x4.trunc_sat_f32x4_s
                    (f32x4.nearest (f32x4.mul (v128.load offset=0 (local.get $p)) (local.get $inv))))
                  (i32x4.trunc_sat_f32x4_s
                    (f32x4.nearest (f32x4.mul (v128.load offset=16 (local.get $p)) (local.get $inv)))))
                (i16x8.narrow_i32x4_s
                  (i32x4.trunc_sat_f32x4_s
                    (f32x4.nearest (f32x4.mul (v128.load offset=32 (local.get $p)) (local.get $inv))))
                  (i32x4.trunc_sat_f32x4_s
                    (f32x4.nearest (f32x4.mul (v128.load offset=48 (local.get $p)) (local.get $inv)))))))
            (local.set $p (i32.add (local.get $p) (i32.const 64)))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (br $q_step)))
        (local.set $x (local.get $end))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))
)
