;; Sums of fast-weight states (compactState.ts, fastWeights.ts via simd/rows.ts); compiled by scripts/wasm.mjs.
;; axpbyRows: y = a * y + sum over rows r: (w * scale[r]) * x[r, :] for int8 rows x and float32 y, 16 values
;; a step (int8 -> int16 -> int32 -> float32). sumScaled: out = a * x + b * y over float32, 4 values a step.
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
)
