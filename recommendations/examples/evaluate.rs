//! Hit rate at 10 of "for you" against most-popular on a generated watch log (each viewer's last view held
//! out): `cargo run -p marquee-recommendations --release --example evaluate [SEED]`.

use marquee_recommendations::evaluate::{evaluate, World};
use marquee_recommendations::Settings;

fn main() {
    let seed = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(World::default().seed);
    let world = World { seed, ..World::default() };
    let started = std::time::Instant::now();
    let result = evaluate(&world, Settings::default(), 10);
    println!(
        "world: {} viewers, {} titles, {} genres, Zipf s = {}, taste {}, seed {}",
        world.viewers, world.titles, world.genres, world.zipf, world.taste, world.seed
    );
    println!("held-out views: {}", result.held_out);
    println!("hit rate @{} ours:         {:.4}", result.k, result.ours);
    println!("hit rate @{} most popular: {:.4}", result.k, result.most_popular);
    println!("ratio: {:.2}x ({:.1} s)", result.ratio(), started.elapsed().as_secs_f64());
}
