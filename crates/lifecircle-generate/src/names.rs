//! Name tables and templates for the synthetic data: road names, facility names (Chinese with an
//! optional English form), residential compound names, addresses and phone numbers.
//!
//! Everything here is invented in the style of Shanghai place names; the road names are real
//! Changning / Shanghai street names but their positions in the generated network are not.

use rand::Rng;

/// A road name: full Chinese and English forms, and the place word derived from it
/// ("仙霞路" → "仙霞" / "Xianxia") used to name facilities and compounds.
#[derive(Debug, Clone)]
pub struct Road {
    pub zh: String,
    pub en: String,
    pub base_zh: String,
    pub base_en: String,
}

impl Road {
    fn from_table(row: &(&str, &str, &str, &str)) -> Road {
        Road {
            zh: row.0.to_string(),
            en: row.1.to_string(),
            base_zh: row.2.to_string(),
            base_en: row.3.to_string(),
        }
    }
}

/// Changning east–west main roads, north to south.
const CN_MAIN_EW: &[(&str, &str, &str, &str)] = &[
    ("光复西路", "West Guangfu Road", "光复", "Guangfu"),
    ("长宁路", "Changning Road", "长宁", "Changning"),
    ("安化路", "Anhua Road", "安化", "Anhua"),
    ("天山路", "Tianshan Road", "天山", "Tianshan"),
    ("仙霞路", "Xianxia Road", "仙霞", "Xianxia"),
    ("茅台路", "Maotai Road", "茅台", "Maotai"),
    ("延安西路", "West Yan'an Road", "延安", "Yan'an"),
    ("虹桥路", "Hongqiao Road", "虹桥", "Hongqiao"),
    ("宋园路", "Songyuan Road", "宋园", "Songyuan"),
    ("虹古路", "Honggu Road", "虹古", "Honggu"),
];

/// Changning north–south main roads, west to east.
const CN_MAIN_NS: &[(&str, &str, &str, &str)] = &[
    ("迎宾三路", "Yingbin 3rd Road", "迎宾", "Yingbin"),
    ("福泉北路", "North Fuquan Road", "福泉", "Fuquan"),
    ("淞虹路", "Songhong Road", "淞虹", "Songhong"),
    ("协和路", "Xiehe Road", "协和", "Xiehe"),
    ("广顺路", "Guangshun Road", "广顺", "Guangshun"),
    ("哈密路", "Hami Road", "哈密", "Hami"),
    ("芙蓉江路", "Furongjiang Road", "芙蓉江", "Furongjiang"),
    ("威宁路", "Weining Road", "威宁", "Weining"),
    ("剑河路", "Jianhe Road", "剑河", "Jianhe"),
    ("娄山关路", "Loushanguan Road", "娄山关", "Loushanguan"),
    ("遵义路", "Zunyi Road", "遵义", "Zunyi"),
    ("古北路", "Gubei Road", "古北", "Gubei"),
    ("水城路", "Shuicheng Road", "水城", "Shuicheng"),
    ("伊犁路", "Yili Road", "伊犁", "Yili"),
    ("中山西路", "West Zhongshan Road", "中山", "Zhongshan"),
    ("定西路", "Dingxi Road", "定西", "Dingxi"),
    ("凯旋路", "Kaixuan Road", "凯旋", "Kaixuan"),
    ("江苏路", "Jiangsu Road", "江苏", "Jiangsu"),
    ("华山路", "Huashan Road", "华山", "Huashan"),
];

/// Changning secondary streets (tertiary / residential lines).
const CN_MINOR: &[(&str, &str, &str, &str)] = &[
    ("玉屏南路", "South Yuping Road", "玉屏", "Yuping"),
    ("红宝石路", "Hongbaoshi Road", "红宝石", "Hongbaoshi"),
    ("荣华东道", "East Ronghua Avenue", "荣华", "Ronghua"),
    (
        "黄金城道",
        "Huangjincheng Avenue",
        "黄金城",
        "Huangjincheng",
    ),
    ("兴义路", "Xingyi Road", "兴义", "Xingyi"),
    ("新华路", "Xinhua Road", "新华", "Xinhua"),
    ("番禺路", "Panyu Road", "番禺", "Panyu"),
    ("法华镇路", "Fahuazhen Road", "法华", "Fahua"),
    ("武夷路", "Wuyi Road", "武夷", "Wuyi"),
    ("安西路", "Anxi Road", "安西", "Anxi"),
    ("利西路", "Lixi Road", "利西", "Lixi"),
    ("镇宁路", "Zhenning Road", "镇宁", "Zhenning"),
    ("宣化路", "Xuanhua Road", "宣化", "Xuanhua"),
    ("昭化路", "Zhaohua Road", "昭化", "Zhaohua"),
    ("长顺路", "Changshun Road", "长顺", "Changshun"),
    ("平塘路", "Pingtang Road", "平塘", "Pingtang"),
    ("虹许路", "Hongxu Road", "虹许", "Hongxu"),
    ("紫云路", "Ziyun Road", "紫云", "Ziyun"),
    ("安顺路", "Anshun Road", "安顺", "Anshun"),
    ("天山支路", "Tianshan Branch Road", "天山", "Tianshan"),
    ("遵义南路", "South Zunyi Road", "遵义", "Zunyi"),
    ("水城南路", "South Shuicheng Road", "水城", "Shuicheng"),
    ("古羊路", "Guyang Road", "古羊", "Guyang"),
    ("绥宁路", "Suining Road", "绥宁", "Suining"),
    ("金浜路", "Jinbang Road", "金浜", "Jinbang"),
    ("仙霞西路", "West Xianxia Road", "仙霞", "Xianxia"),
    ("天山西路", "West Tianshan Road", "天山", "Tianshan"),
    ("金钟路", "Jinzhong Road", "金钟", "Jinzhong"),
    ("北翟路", "Beidi Road", "北翟", "Beidi"),
    ("双流路", "Shuangliu Road", "双流", "Shuangliu"),
    ("杨宅路", "Yangzhai Road", "杨宅", "Yangzhai"),
    ("新泾北路", "North Xinjing Road", "新泾", "Xinjing"),
    ("泉口路", "Quankou Road", "泉口", "Quankou"),
    ("甘溪路", "Ganxi Road", "甘溪", "Ganxi"),
    ("天原路", "Tianyuan Road", "天原", "Tianyuan"),
    ("长宁支路", "Changning Branch Road", "长宁", "Changning"),
    ("华阳路", "Huayang Road", "华阳", "Huayang"),
    ("曹家堰路", "Caojiayan Road", "曹家堰", "Caojiayan"),
    ("愚园路", "Yuyuan Road", "愚园", "Yuyuan"),
    ("万航渡路", "Wanhangdu Road", "万航渡", "Wanhangdu"),
    ("林泉路", "Linquan Road", "林泉", "Linquan"),
    ("虹井路", "Hongjing Road", "虹井", "Hongjing"),
    ("航新路", "Hangxin Road", "航新", "Hangxin"),
    ("可乐路", "Kele Road", "可乐", "Kele"),
];

/// Stems for the generated city-wide road names (Shanghai preset).
const CITY_STEMS: &[(&str, &str)] = &[
    ("北京", "Beijing"),
    ("南京", "Nanjing"),
    ("天津", "Tianjin"),
    ("四川", "Sichuan"),
    ("江西", "Jiangxi"),
    ("福建", "Fujian"),
    ("山东", "Shandong"),
    ("河南", "Henan"),
    ("湖南", "Hunan"),
    ("广东", "Guangdong"),
    ("云南", "Yunnan"),
    ("贵州", "Guizhou"),
    ("西藏", "Xizang"),
    ("陕西", "Shaanxi"),
    ("浙江", "Zhejiang"),
    ("江苏", "Jiangsu"),
    ("安徽", "Anhui"),
    ("湖北", "Hubei"),
    ("广西", "Guangxi"),
    ("宁夏", "Ningxia"),
    ("青海", "Qinghai"),
    ("甘肃", "Gansu"),
    ("吉林", "Jilin"),
    ("辽宁", "Liaoning"),
    ("长寿", "Changshou"),
    ("延安", "Yan'an"),
    ("淮海", "Huaihai"),
    ("复兴", "Fuxing"),
    ("建国", "Jianguo"),
    ("肇嘉浜", "Zhaojiabang"),
    ("漕溪", "Caoxi"),
    ("天钥桥", "Tianyaoqiao"),
    ("衡山", "Hengshan"),
    ("武康", "Wukang"),
    ("华山", "Huashan"),
    ("江宁", "Jiangning"),
    ("常德", "Changde"),
    ("胶州", "Jiaozhou"),
    ("石门", "Shimen"),
    ("大沽", "Dagu"),
    ("共和新", "Gonghexin"),
    ("中山", "Zhongshan"),
    ("曲阳", "Quyang"),
    ("四平", "Siping"),
    ("大连", "Dalian"),
    ("杨树浦", "Yangshupu"),
    ("军工", "Jungong"),
    ("长阳", "Changyang"),
    ("周家嘴", "Zhoujiazui"),
    ("大统", "Datong"),
    ("西康", "Xikang"),
    ("张杨", "Zhangyang"),
    ("浦东", "Pudong"),
    ("杨高", "Yanggao"),
    ("龙阳", "Longyang"),
    ("东方", "Dongfang"),
    ("浦电", "Pudian"),
    ("沪闵", "Humin"),
    ("龙华", "Longhua"),
    ("宛平", "Wanping"),
    ("零陵", "Lingling"),
    ("田林", "Tianlin"),
    ("宜山", "Yishan"),
    ("桂林", "Guilin"),
    ("钦州", "Qinzhou"),
    ("柳州", "Liuzhou"),
    ("凯旋", "Kaixuan"),
    ("虹桥", "Hongqiao"),
    ("仙霞", "Xianxia"),
    ("天山", "Tianshan"),
    ("长宁", "Changning"),
    ("古北", "Gubei"),
    ("真北", "Zhenbei"),
    ("曹杨", "Caoyang"),
    ("金沙江", "Jinshajiang"),
    ("武宁", "Wuning"),
    ("宜川", "Yichuan"),
    ("交通", "Jiaotong"),
    ("光复", "Guangfu"),
    ("控江", "Kongjiang"),
    ("国权", "Guoquan"),
    ("政立", "Zhengli"),
    ("殷行", "Yinhang"),
];

const CITY_SUFFIXES: &[(&str, &str)] = &[
    ("路", "{} Road"),
    ("东路", "East {} Road"),
    ("西路", "West {} Road"),
    ("南路", "South {} Road"),
    ("北路", "North {} Road"),
    ("中路", "Middle {} Road"),
    ("支路", "{} Branch Road"),
    ("大道", "{} Avenue"),
];

/// East–west main road names for the Changning preset (north to south).
pub fn changning_main_ew() -> Vec<Road> {
    CN_MAIN_EW.iter().map(Road::from_table).collect()
}

/// North–south main road names for the Changning preset (west to east).
pub fn changning_main_ns() -> Vec<Road> {
    CN_MAIN_NS.iter().map(Road::from_table).collect()
}

/// Secondary street names for the Changning preset.
pub fn changning_minor() -> Vec<Road> {
    CN_MINOR.iter().map(Road::from_table).collect()
}

/// A generated Shanghai-style road name ("肇嘉浜西路" / "West Zhaojiabang Road").
pub fn city_road(rng: &mut impl Rng) -> Road {
    let (stem_zh, stem_en) = *pick(rng, CITY_STEMS);
    // Plain "路" is the most common suffix.
    let (suf_zh, suf_en) = if rng.random_bool(0.45) {
        CITY_SUFFIXES[0]
    } else {
        CITY_SUFFIXES[rng.random_range(1..CITY_SUFFIXES.len())]
    };
    Road {
        zh: format!("{stem_zh}{suf_zh}"),
        en: suf_en.replace("{}", stem_en),
        base_zh: stem_zh.to_string(),
        base_en: stem_en.to_string(),
    }
}

/// Chinese numerals one to ten.
pub const CN_NUM: [&str; 10] = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

/// The kinds of place the generator names, one per category of the built-in taxonomy and in
/// its order (`[[categories]]` in lifecircle.toml): the category ids themselves come from the
/// taxonomy ([`Kind::id`]); a test checks each kind's raw aliases classify to its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Education,
    Kindergarten,
    Medical,
    Pharmacy,
    Elderly,
    Market,
    Supermarket,
    Park,
    Sport,
    Culture,
    CommunityService,
    Bank,
    Transit,
    Other,
}

/// The built-in taxonomy's category ids, in configuration order.
static CATEGORY_IDS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    let taxonomy = lifecircle::config::Config::embedded()
        .and_then(|config| config.taxonomy())
        .expect("the built-in configuration holds a valid taxonomy");
    taxonomy.categories().map(|(_, c)| c.id.clone()).collect()
});

impl Kind {
    /// Every kind, in the taxonomy's order (for the test that checks them against it).
    #[cfg(test)]
    pub const ALL: [Kind; 14] = [
        Kind::Education,
        Kind::Kindergarten,
        Kind::Medical,
        Kind::Pharmacy,
        Kind::Elderly,
        Kind::Market,
        Kind::Supermarket,
        Kind::Park,
        Kind::Sport,
        Kind::Culture,
        Kind::CommunityService,
        Kind::Bank,
        Kind::Transit,
        Kind::Other,
    ];

    /// The taxonomy category id facilities of this kind get.
    pub fn id(self) -> &'static str {
        CATEGORY_IDS
            .get(self as usize)
            .map(String::as_str)
            .expect("the built-in taxonomy has a category for every kind")
    }
}

/// Relative frequency of each category among generated facilities: many shops, stops, pharmacies
/// and banks; fewer schools, markets and hospitals.
pub const KIND_WEIGHTS: &[(Kind, f64)] = &[
    (Kind::Supermarket, 0.21),
    (Kind::Transit, 0.13),
    (Kind::Pharmacy, 0.075),
    (Kind::Bank, 0.07),
    (Kind::Medical, 0.05),
    (Kind::Elderly, 0.045),
    (Kind::Market, 0.022),
    (Kind::Park, 0.042),
    (Kind::Sport, 0.045),
    (Kind::Culture, 0.025),
    (Kind::CommunityService, 0.06),
    (Kind::Education, 0.03),
    (Kind::Kindergarten, 0.035),
    (Kind::Other, 0.015),
];

/// Category values that match no taxonomy id or alias (ingest files them under `other`).
pub const UNKNOWN_CATEGORIES: &[&str] = &["殡仪服务", "", "废品回收", "unknown", "待分类"];

/// What a name template produces: the Chinese name, the English name (written for some
/// facilities only) and the raw category aliases that fit this kind of place.
#[derive(Debug, Clone)]
pub struct Named {
    pub zh: String,
    pub en: String,
    pub aliases: &'static [&'static str],
}

/// What a facility's name may refer to.
pub struct NameCtx<'a> {
    /// Nearest named road (branch names, station names).
    pub road: &'a Road,
    /// A crossing road, for bus stops.
    pub cross: Option<&'a Road>,
    /// Place word ("仙霞", "Xianxia").
    pub place_zh: &'a str,
    pub place_en: &'a str,
    /// Prefix for public institutions ("长宁区").
    pub district_zh: &'a str,
    pub district_en: &'a str,
}

fn pick<'t, T>(rng: &mut impl Rng, items: &'t [T]) -> &'t T {
    &items[rng.random_range(0..items.len())]
}

fn named(zh: String, en: String, aliases: &'static [&'static str]) -> Named {
    Named { zh, en, aliases }
}

const CONVENIENCE_CHAINS: &[(&str, &str)] = &[
    ("全家便利店", "FamilyMart"),
    ("罗森", "Lawson"),
    ("好德便利店", "Alldays"),
    ("可的便利店", "Kedi"),
    ("快客便利", "Quik"),
    ("便利蜂", "Bianlifeng"),
    ("喜士多", "C-Store"),
    ("联华快客", "Lianhua Quik"),
];

const SUPERMARKET_CHAINS: &[(&str, &str)] = &[
    ("联华超市", "Lianhua Supermarket"),
    ("华联超市", "Hualian Supermarket"),
    ("世纪联华", "Century Mart"),
    ("家乐福", "Carrefour"),
    ("盒马鲜生", "Freshippo"),
    ("大润发", "RT-Mart"),
    ("农工商超市", "NGS Supermarket"),
    ("易买得", "E-Mart"),
];

const PHARMACY_CHAINS: &[(&str, &str)] = &[
    ("益丰大药房", "Yifeng Pharmacy"),
    ("老百姓大药房", "LBX Pharmacy"),
    ("国大药房", "Guoda Pharmacy"),
    ("第一医药", "No.1 Pharmacy"),
    ("雷允上药房", "Leiyunshang Pharmacy"),
    ("华氏大药房", "Huashi Pharmacy"),
    ("海王星辰", "Neptune Pharmacy"),
    ("复美大药房", "Fumei Pharmacy"),
    ("养和堂药房", "Yanghetang Pharmacy"),
];

const BANKS: &[(&str, &str)] = &[
    ("工商银行", "ICBC"),
    ("建设银行", "China Construction Bank"),
    ("中国银行", "Bank of China"),
    ("农业银行", "Agricultural Bank of China"),
    ("交通银行", "Bank of Communications"),
    ("招商银行", "China Merchants Bank"),
    ("浦发银行", "SPD Bank"),
    ("上海银行", "Bank of Shanghai"),
    ("上海农商银行", "Shanghai Rural Commercial Bank"),
    ("兴业银行", "Industrial Bank"),
    ("中信银行", "China CITIC Bank"),
    ("民生银行", "China Minsheng Bank"),
    ("邮储银行", "Postal Savings Bank of China"),
];

const GYM_CHAINS: &[(&str, &str)] = &[
    ("一兆韦德健身", "Will's Gym"),
    ("乐刻运动", "LEFIT"),
    ("超级猩猩", "SuperMonkey"),
    ("威尔仕健身", "Wills Fitness"),
];

const FRESH_CHAINS: &[(&str, &str)] = &[("钱大妈", "Qiandama"), ("叮咚买菜", "Dingdong Fresh")];

/// Branch suffix "(仙霞路店)"; a few use full-width parentheses, as real listings do.
fn branch(rng: &mut impl Rng, chain_zh: &str, chain_en: &str, road: &Road) -> (String, String) {
    let zh = if rng.random_bool(0.04) {
        format!("{chain_zh}（{}店）", road.zh)
    } else {
        format!("{chain_zh}({}店)", road.zh)
    };
    (zh, format!("{chain_en} ({})", road.en))
}

/// Name a generated facility of `kind`.
pub fn facility_name(rng: &mut impl Rng, kind: Kind, ctx: &NameCtx) -> Named {
    let p = ctx.place_zh;
    let pe = ctx.place_en;
    let d = ctx.district_zh;
    let de = ctx.district_en;
    match kind {
        Kind::Supermarket => {
            let r = rng.random::<f64>();
            if r < 0.55 {
                let (c, ce) = *pick(rng, CONVENIENCE_CHAINS);
                let (zh, en) = branch(rng, c, ce, ctx.road);
                named(zh, en, &["便利店", "convenience"])
            } else if r < 0.85 {
                let (c, ce) = *pick(rng, SUPERMARKET_CHAINS);
                let (zh, en) = branch(rng, c, ce, ctx.road);
                named(zh, en, &["超市", "grocery"])
            } else {
                named(
                    format!("{p}便民超市"),
                    format!("{pe} Convenience Store"),
                    &["超市", "便利店", "grocery"],
                )
            }
        }
        Kind::Transit => match ctx.cross {
            Some(cross) => named(
                format!("{}{}(公交站)", ctx.road.zh, cross.zh),
                format!("{} & {} (Bus Stop)", ctx.road.en, cross.en),
                &["公交站", "bus_stop"],
            ),
            None => named(
                format!("{p}新村(公交站)"),
                format!("{pe} Xincun (Bus Stop)"),
                &["公交站", "bus_stop"],
            ),
        },
        Kind::Pharmacy => {
            let (c, ce) = *pick(rng, PHARMACY_CHAINS);
            let (zh, en) = branch(rng, c, ce, ctx.road);
            named(zh, en, &["药店", "药房", "drugstore"])
        }
        Kind::Bank => {
            let r = rng.random::<f64>();
            if r < 0.8 {
                let (b, be) = *pick(rng, BANKS);
                named(
                    format!("{b}({p}支行)"),
                    format!("{be} ({pe} Sub-branch)"),
                    &["银行"],
                )
            } else if r < 0.9 {
                let (b, be) = *pick(rng, BANKS);
                named(
                    format!("{b}ATM({})", ctx.road.zh),
                    format!("{be} ATM ({})", ctx.road.en),
                    &["atm", "银行"],
                )
            } else {
                named(
                    format!("{}邮政所", ctx.road.zh),
                    format!("{} Post Office", ctx.road.en),
                    &["邮局", "邮政", "post_office"],
                )
            }
        }
        Kind::Medical => {
            let r = rng.random::<f64>();
            if r < 0.4 {
                named(
                    format!("{p}社区卫生服务站"),
                    format!("{pe} Community Health Station"),
                    &["卫生服务站"],
                )
            } else if r < 0.6 {
                named(
                    format!("{p}口腔门诊部"),
                    format!("{pe} Dental Clinic"),
                    &["诊所", "clinic"],
                )
            } else if r < 0.75 {
                named(
                    format!("{p}中医诊所"),
                    format!("{pe} TCM Clinic"),
                    &["诊所", "clinic"],
                )
            } else if r < 0.95 {
                named(
                    format!("{p}门诊部"),
                    format!("{pe} Outpatient Clinic"),
                    &["诊所", "clinic"],
                )
            } else {
                named(
                    format!("{p}康复医院"),
                    format!("{pe} Rehabilitation Hospital"),
                    &["医院", "hospital"],
                )
            }
        }
        Kind::Elderly => {
            let r = rng.random::<f64>();
            if r < 0.3 {
                named(
                    format!("{p}长者照护之家"),
                    format!("{pe} Elderly Care Home"),
                    &["长者照护之家", "elderly_care"],
                )
            } else if r < 0.55 {
                named(
                    format!("{p}社区长者食堂"),
                    format!("{pe} Community Canteen for Seniors"),
                    &["社区食堂"],
                )
            } else if r < 0.7 {
                named(
                    format!("{p}敬老院"),
                    format!("{pe} Nursing Home"),
                    &["养老院"],
                )
            } else if r < 0.85 {
                named(
                    format!("{p}日间照料中心"),
                    format!("{pe} Day Care Centre"),
                    &["日间照料中心"],
                )
            } else {
                named(
                    format!("{p}综合为老服务中心"),
                    format!("{pe} Senior Service Centre"),
                    &["elderly_care"],
                )
            }
        }
        Kind::Market => {
            let r = rng.random::<f64>();
            if r < 0.45 {
                named(
                    format!("{p}菜市场"),
                    format!("{pe} Wet Market"),
                    &["菜市场", "wet_market"],
                )
            } else if r < 0.65 {
                named(
                    format!("{p}标准化菜市场"),
                    format!("{pe} Standard Food Market"),
                    &["标准化菜市场"],
                )
            } else if r < 0.85 {
                named(format!("{p}菜场"), format!("{pe} Food Market"), &["菜场"])
            } else {
                let (c, ce) = *pick(rng, FRESH_CHAINS);
                let (zh, en) = branch(rng, c, ce, ctx.road);
                named(zh, en, &["菜场", "菜市场"])
            }
        }
        Kind::Park => {
            let r = rng.random::<f64>();
            if r < 0.35 {
                named(format!("{p}绿地"), format!("{pe} Green Space"), &["绿地"])
            } else if r < 0.6 {
                named(
                    format!("{p}口袋公园"),
                    format!("{pe} Pocket Park"),
                    &["口袋公园", "pocket_park"],
                )
            } else if r < 0.75 {
                named(
                    format!("{p}街心花园"),
                    format!("{pe} Garden"),
                    &["街心花园", "garden"],
                )
            } else if r < 0.9 {
                named(format!("{p}公园"), format!("{pe} Park"), &["公园"])
            } else {
                let w = *pick(rng, COMPOUND_WORDS);
                named(
                    format!("{p}{w}园"),
                    format!("{pe} Pocket Garden"),
                    &["口袋公园", "pocket_park"],
                )
            }
        }
        Kind::Sport => {
            let r = rng.random::<f64>();
            if r < 0.4 {
                named(
                    format!("{p}健身点"),
                    format!("{pe} Fitness Spot"),
                    &["健身点", "fitness"],
                )
            } else if r < 0.55 {
                named(
                    format!("{p}市民健身驿站"),
                    format!("{pe} Fitness Station"),
                    &["健身点", "fitness"],
                )
            } else if r < 0.7 {
                named(
                    format!("{p}篮球场"),
                    format!("{pe} Basketball Court"),
                    &["球场"],
                )
            } else if r < 0.85 {
                let (c, ce) = *pick(rng, GYM_CHAINS);
                let (zh, en) = branch(rng, c, ce, ctx.road);
                named(zh, en, &["fitness"])
            } else if r < 0.93 {
                named(
                    format!("{p}游泳馆"),
                    format!("{pe} Swimming Pool"),
                    &["游泳馆"],
                )
            } else {
                named(
                    format!("{p}体育场"),
                    format!("{pe} Sports Ground"),
                    &["体育场馆", "sports_centre"],
                )
            }
        }
        Kind::Culture => {
            let r = rng.random::<f64>();
            if r < 0.35 {
                named(
                    format!("{d}图书馆{p}分馆"),
                    format!("{de} Library, {pe} Branch"),
                    &["图书馆", "library"],
                )
            } else if r < 0.65 {
                named(
                    format!("{p}文化站"),
                    format!("{pe} Cultural Station"),
                    &["文化站"],
                )
            } else if r < 0.85 {
                named(
                    format!("{p}居民区文化活动室"),
                    format!("{pe} Residents' Activity Room"),
                    &["文化活动中心", "community_centre"],
                )
            } else {
                named(
                    format!("{p}书房"),
                    format!("{pe} Reading Room"),
                    &["图书馆", "library"],
                )
            }
        }
        Kind::CommunityService => {
            let r = rng.random::<f64>();
            if r < 0.6 {
                let n = *pick(rng, &CN_NUM[..9]);
                if rng.random_bool(0.4) {
                    named(
                        format!("{p}居委会"),
                        format!("{pe} Neighbourhood Committee"),
                        &["居委会"],
                    )
                } else {
                    named(
                        format!("{p}{n}村居委会"),
                        format!("{pe} Village {} Neighbourhood Committee", cn_index(n)),
                        &["居委会"],
                    )
                }
            } else if r < 0.8 {
                named(
                    format!("{p}邻里汇"),
                    format!("{pe} Neighbourhood Hub"),
                    &["社区服务中心", "community_service_centre"],
                )
            } else {
                named(
                    format!("{p}党群服务站"),
                    format!("{pe} Community Service Station"),
                    &["党群服务中心"],
                )
            }
        }
        Kind::Education => {
            let r = rng.random::<f64>();
            if r < 0.5 {
                let n = rng.random_range(1..=4);
                named(
                    format!("{d}{p}第{}小学", CN_NUM[n - 1]),
                    format!("{pe} No.{n} Primary School"),
                    &["小学", "primary_school", "school"],
                )
            } else if r < 0.7 {
                named(
                    format!("{d}{p}中学"),
                    format!("{pe} Middle School"),
                    &["中学", "middle_school", "school"],
                )
            } else if r < 0.9 {
                named(
                    format!("{d}{p}初级中学"),
                    format!("{pe} Junior High School"),
                    &["初级中学", "middle_school"],
                )
            } else {
                named(
                    format!("{p}实验学校"),
                    format!("{pe} Experimental School"),
                    &["九年一贯制学校", "school"],
                )
            }
        }
        Kind::Kindergarten => {
            let r = rng.random::<f64>();
            if r < 0.4 {
                let n = rng.random_range(1..=4);
                named(
                    format!("{d}{p}第{}幼儿园", CN_NUM[n - 1]),
                    format!("{pe} No.{n} Kindergarten"),
                    &["幼儿园"],
                )
            } else if r < 0.7 {
                named(
                    format!("{p}幼儿园"),
                    format!("{pe} Kindergarten"),
                    &["幼儿园"],
                )
            } else if r < 0.9 {
                named(
                    format!("{p}宝宝屋"),
                    format!("{pe} Childcare Centre"),
                    &["托育", "childcare"],
                )
            } else {
                named(
                    format!("{p}托儿所"),
                    format!("{pe} Nursery"),
                    &["托儿所", "nursery"],
                )
            }
        }
        Kind::Other => {
            let r = rng.random::<f64>();
            if r < 0.5 {
                named(format!("{p}公共厕所"), format!("{pe} Public Toilet"), &[])
            } else if r < 0.8 {
                named(
                    format!("{p}垃圾分类回收站"),
                    format!("{pe} Recycling Point"),
                    &[],
                )
            } else {
                named(format!("{p}停车场"), format!("{pe} Car Park"), &[])
            }
        }
    }
}

/// "三" → 3.
fn cn_index(n: &str) -> usize {
    CN_NUM.iter().position(|c| *c == n).map_or(1, |i| i + 1)
}

const COMPOUND_SUFFIXES: &[&str] = &[
    "新村",
    "小区",
    "花园",
    "苑",
    "公寓",
    "大楼",
    "新城",
    "佳苑",
    "雅苑",
    "名邸",
    "公馆",
    "坊",
    "里",
    "大厦",
    "华庭",
    "家园",
    "嘉园",
    "新苑",
    "绿苑",
    "花苑",
    "城",
    "湾",
    "别墅",
    "广场公寓",
];

const COMPOUND_WORDS: &[&str] = &[
    "锦绣", "怡景", "嘉利", "春天", "阳光", "金都", "虹景", "馨园", "绿洲", "丽都", "宝安", "玉兰",
    "海棠", "紫藤", "银杏", "星辰", "和平", "幸福", "长青", "美丽", "华府", "御景", "香樟", "枫林",
    "云锦", "汇丰", "金桥", "明珠", "东方", "安亭", "景福", "瑞和", "晶华", "合生",
];

/// Neighbourhood place words of Changning (used with road stems to name places).
pub const CHANGNING_PLACES: &[(&str, &str)] = &[
    ("虹储", "Hongchu"),
    ("虹仙", "Hongxian"),
    ("锦屏", "Jinping"),
    ("仙逸", "Xianyi"),
    ("绿园", "Lüyuan"),
    ("北虹", "Beihong"),
    ("华院", "Huayuan"),
    ("延西", "Yanxi"),
    ("岐山", "Qishan"),
    ("程桥", "Chengqiao"),
    ("天义", "Tianyi"),
    ("安龙", "Anlong"),
    ("长新", "Changxin"),
    ("新渔", "Xinyu"),
    ("香花", "Xianghua"),
    ("飞乐", "Feile"),
    ("虹旭", "Hongxu"),
    ("新泾", "Xinjing"),
    ("绿八", "Lüba"),
    ("天山", "Tianshan"),
    ("仙霞", "Xianxia"),
    ("虹桥", "Hongqiao"),
    ("古北", "Gubei"),
    ("上航", "Shanghang"),
    ("金平", "Jinping"),
    ("通协", "Tongxie"),
    ("大金更", "Dajingeng"),
    ("新华", "Xinhua"),
    ("法华", "Fahua"),
    ("番禺", "Panyu"),
    ("幸福", "Xingfu"),
    ("华阳", "Huayang"),
    ("曹家堰", "Caojiayan"),
    ("利西", "Lixi"),
    ("愚园", "Yuyuan"),
    ("武夷", "Wuyi"),
    ("镇宁", "Zhenning"),
    ("周家桥", "Zhoujiaqiao"),
    ("长宁", "Changning"),
    ("北新泾", "Beixinjing"),
];

/// A residential compound name and its population (residents). Old "新村" estates are large,
/// single "大楼" towers small.
pub fn compound(rng: &mut impl Rng, place_zh: &str) -> (String, i32) {
    let suffix = *pick(rng, COMPOUND_SUFFIXES);
    let name = match suffix {
        "新村" if rng.random_bool(0.5) => {
            format!("{place_zh}{}村", pick(rng, &CN_NUM[..9]))
        }
        _ if rng.random_bool(0.35) => format!("{}{suffix}", pick(rng, COMPOUND_WORDS)),
        _ => format!("{place_zh}{suffix}"),
    };
    let (lo, hi): (f64, f64) = match suffix {
        "新村" => (1500.0, 5000.0),
        "大楼" | "大厦" | "公馆" | "坊" | "里" | "别墅" => (200.0, 900.0),
        _ => (300.0, 3200.0),
    };
    // log-uniform between lo and hi
    let pop = (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp();
    (name, (pop.round() as i32).clamp(200, 5000))
}

/// A street address on `road`: "长宁路1234号", "天山路 88弄 5号" and similar.
pub fn address(rng: &mut impl Rng, road: &Road) -> String {
    let r = rng.random::<f64>();
    let no = rng.random_range(1..=1999);
    if r < 0.6 {
        format!("{}{no}号", road.zh)
    } else if r < 0.85 {
        format!("{}{}弄{}号", road.zh, no, rng.random_range(1..=60))
    } else {
        format!("{} {}弄 {}号", road.zh, no, rng.random_range(1..=60))
    }
}

/// A Shanghai telephone number in one of the usual notations.
pub fn phone(rng: &mut impl Rng) -> String {
    let first = *pick(rng, &[5u32, 6, 6, 6]);
    let local = first * 10_000_000 + rng.random_range(0..10_000_000);
    let r = rng.random::<f64>();
    if r < 0.55 {
        format!("021-{local}")
    } else if r < 0.7 {
        format!("{local}")
    } else if r < 0.8 {
        format!("(021){local}")
    } else if r < 0.92 {
        format!(
            "1{}{:09}",
            pick(rng, &[3, 5, 8]),
            rng.random_range(0..1_000_000_000u32)
        )
    } else {
        format!("021-{local};021-{}", local + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn city_roads_have_both_forms() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let r = city_road(&mut rng);
            assert!(r.zh.ends_with('路') || r.zh.ends_with("大道"), "{}", r.zh);
            assert!(!r.en.is_empty() && !r.en.contains("{}"), "{}", r.en);
            assert!(r.zh.starts_with(&r.base_zh));
        }
    }

    #[test]
    fn compound_population_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..500 {
            let (name, pop) = compound(&mut rng, "天山");
            assert!(!name.is_empty());
            assert!((200..=5000).contains(&pop));
        }
    }
}
